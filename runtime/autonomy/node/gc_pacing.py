"""The garbage collector paced by the clock, for a node that `Node.start` owns.

Why (measured with bench/agents_bench.py, 1,000 agent calls kept in flight by a model that takes 2 s):
CPython starts a young collection when allocations minus deallocations pass a threshold. In a server
whose calls each hold a few hundred objects for seconds, old calls' objects die about as fast as new
ones are born, so that count barely moves: the young generations grew to 100,000-300,000 live objects
before a collection ran, and each such collection walked them all. Pauses of 50-190 ms were the whole
p99 tail (300-500 ms added to each call at p99).

What the pacer does instead:
  - every `YOUNG_PERIOD_S` a collection of generations 0 and 1, on the event loop. Each walks only what
    was allocated since the last one and is still alive, a few ms at most, and what survives goes
    straight to the old generation, so an object that lives across a model call is walked once;
  - a full collection, which walks every object in flight (~280 ms with 1,000 agent calls in flight),
    only when the heap (pymalloc blocks) has grown `FULL_GROWTH` times since the last one, at most every
    `FULL_MIN_INTERVAL_S`, and at least every `FULL_MAX_INTERVAL_S`. CPython's rule (old generation grown
    by a quarter) fired on every ramp of load: 1,000 calls in flight double a fresh node's heap, and one
    full pause with its backlog then made the p99 of a whole minute. The price is memory: cyclic garbage
    that outlives a young collection waits for the next full one, so the heap may reach a few times its
    live size in the worst case (under agent load almost none does: the full collections collected ~0).
  - CPython's automatic collection stays on, with thresholds high enough that it only acts when the
    loop is blocked (nothing else would collect then), and never for the old generation.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from collections.abc import Callable

logger = logging.getLogger("autonomy.node")

YOUNG_PERIOD_S = 0.05
FULL_GROWTH = 4.0
FULL_MIN_INTERVAL_S = 30.0
FULL_MAX_INTERVAL_S = 600.0
# The safety net: automatic young collections only after this many net allocations, and none of the old
# generation (its count grows by one per young collection: at 20 a second this is never reached).
SAFETY_THRESHOLDS = (100_000, 10, 1_000_000_000)


class FullCollectionPolicy:
    """When to walk the whole heap: pure, so that it can be tested without waiting minutes."""

    def __init__(self, heap_blocks: int, now: float) -> None:
        self.heap_after_last = heap_blocks
        self.last = now

    def due(self, heap_blocks: int, now: float) -> bool:
        since = now - self.last
        if since >= FULL_MAX_INTERVAL_S:
            return True
        return since >= FULL_MIN_INTERVAL_S and heap_blocks >= self.heap_after_last * FULL_GROWTH

    def collected(self, heap_blocks: int, now: float) -> None:
        self.heap_after_last = heap_blocks
        self.last = now


class GcPacer:
    """Runs the collections on the loop's clock; `start()` takes the collector over, `stop()` gives it back."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Callable[[], float] = time.monotonic) -> None:
        self._loop = loop
        self._clock = clock
        self._handle: asyncio.TimerHandle | None = None
        self._previous_thresholds: tuple[int, int, int] | None = None
        self.full = FullCollectionPolicy(sys.getallocatedblocks(), clock())

    def start(self) -> None:
        if self._handle is not None:
            return
        self._previous_thresholds = gc.get_threshold()
        gc.set_threshold(*SAFETY_THRESHOLDS)
        self.full.collected(sys.getallocatedblocks(), self._clock())
        self._handle = self._loop.call_later(YOUNG_PERIOD_S, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._previous_thresholds is not None:
            gc.set_threshold(*self._previous_thresholds)
            self._previous_thresholds = None

    def _tick(self) -> None:
        now = self._clock()
        if self.full.due(sys.getallocatedblocks(), now):
            began = time.perf_counter()
            freed = gc.collect()
            heap = sys.getallocatedblocks()
            self.full.collected(heap, self._clock())
            logger.debug(
                "full garbage collection: %d objects freed in %.0f ms; heap now %d blocks",
                freed, (time.perf_counter() - began) * 1000, heap,
            )
        else:
            gc.collect(1)
        self._handle = self._loop.call_later(YOUNG_PERIOD_S, self._tick)
