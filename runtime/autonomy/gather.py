"""`gather(*aws, batch_size=None)`: `asyncio.gather` with at most `batch_size` awaitables running at once.

Upstream's fan-out helper, with its semantics: results come back in the order the awaitables were given;
without `batch_size` (None or 0) it is `asyncio.gather` itself; the first exception propagates at once and
the other awaitables keep running (as `asyncio.gather` without `return_exceptions`), the ones still waiting
for a slot included; cancelling the call cancels them all (those still waiting for a slot are closed
unstarted, where upstream leaves them to warn that they were never awaited).
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable
from typing import Any


async def gather(*aws: Awaitable[Any], batch_size: float | None = None) -> list[Any]:
    """Await every awaitable and return their results in order, running at most `batch_size` at a time.

    A fractional size rounds up (`len(items) / 4` runs as upstream's semaphore runs it)."""
    problem = _check(batch_size)
    if problem is not None:
        for awaitable in aws:
            _discard(awaitable)  # they will never run: no "never awaited" warnings on top of the error
        raise problem
    if not batch_size:
        return list(await asyncio.gather(*aws))

    slots = asyncio.Semaphore(math.ceil(batch_size))

    async def in_a_slot(awaitable: Awaitable[Any]) -> Any:
        try:
            await slots.acquire()
        except BaseException:
            _discard(awaitable)  # cancelled while waiting for a slot: it will never run
            raise
        try:
            return await awaitable
        finally:
            slots.release()

    return list(await asyncio.gather(*(in_a_slot(a) for a in aws)))


def _check(batch_size: object) -> Exception | None:
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | float):
        return TypeError(f"gather(batch_size={batch_size!r}): batch_size must be a number or None")
    if batch_size < 0 or batch_size != batch_size:  # negative, or NaN
        return ValueError(f"gather(batch_size={batch_size}): batch_size must be >= 1, or None for no limit")
    return None


def _discard(awaitable: Awaitable[Any]) -> None:
    """Close a coroutine that will never be awaited (no "never awaited" warning), cancel a future."""
    if inspect.iscoroutine(awaitable):
        awaitable.close()
    elif isinstance(awaitable, asyncio.Future):
        awaitable.cancel()
