"""The GC pacer's rules, without waiting for them: when a full collection is due, and that the pacer
collects on the loop's clock and hands the collector back."""

from __future__ import annotations

import asyncio
import gc

from autonomy.node import gc_pacing
from autonomy.node.gc_pacing import FullCollectionPolicy, GcPacer


def test_full_collection_waits_for_the_heap_to_grow_several_times() -> None:
    policy = FullCollectionPolicy(heap_blocks=100_000, now=0.0)
    grown = int(100_000 * gc_pacing.FULL_GROWTH)
    # a heap grown by the calls in flight (1,000 of them double a fresh node's): no walk over them all
    assert not policy.due(200_000, now=60.0)
    assert not policy.due(grown - 1, now=60.0)
    assert policy.due(grown, now=60.0)


def test_full_collections_are_spaced_even_while_the_heap_grows() -> None:
    policy = FullCollectionPolicy(heap_blocks=100_000, now=0.0)
    assert not policy.due(1_000_000, now=gc_pacing.FULL_MIN_INTERVAL_S - 0.1)
    assert policy.due(1_000_000, now=gc_pacing.FULL_MIN_INTERVAL_S)
    policy.collected(1_000_000, now=gc_pacing.FULL_MIN_INTERVAL_S)
    assert not policy.due(1_100_000, now=gc_pacing.FULL_MIN_INTERVAL_S * 3)  # measured from the last one


def test_a_steady_heap_still_gets_a_full_collection_now_and_then() -> None:
    policy = FullCollectionPolicy(heap_blocks=100_000, now=0.0)
    assert not policy.due(90_000, now=gc_pacing.FULL_MAX_INTERVAL_S - 1)
    assert policy.due(90_000, now=gc_pacing.FULL_MAX_INTERVAL_S)


async def test_pacer_collects_young_objects_by_the_clock_and_gives_the_collector_back() -> None:
    before = gc.get_threshold()
    collections_before = gc.get_stats()[1]["collections"]
    pacer = GcPacer(asyncio.get_running_loop())
    pacer.start()
    try:
        assert gc.get_threshold() == gc_pacing.SAFETY_THRESHOLDS
        await asyncio.sleep(gc_pacing.YOUNG_PERIOD_S * 6)
        ran = gc.get_stats()[1]["collections"] - collections_before
        assert 3 <= ran <= 7, ran  # about one a period, each of generations 0 and 1
    finally:
        pacer.stop()
    assert gc.get_threshold() == before
    stopped_at = gc.get_stats()[1]["collections"]
    await asyncio.sleep(gc_pacing.YOUNG_PERIOD_S * 3)
    assert gc.get_stats()[1]["collections"] == stopped_at  # no timer left behind
