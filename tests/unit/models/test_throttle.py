"""`throttle` as upstream's: the rate starts at `throttle_requests_per_minute`, grows by one request a
minute per success up to 1,000 a minute, halves on a 429 (then holds for 5 s), on a token bucket of one
second. A clock the test controls drives the bucket."""

from __future__ import annotations

import asyncio
import time

import pytest

from autonomy.models import Model, ModelThrottled
from autonomy.models.throttle import Throttle, ThrottleSettings
from tests.support.scripted_llm import Reply, ScriptedLLM


class Clock:
    """Time that moves only when the throttle sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def throttle(clock: Clock, rpm: float = 60, in_progress: int = 10, **settings: float) -> Throttle:
    return Throttle(
        settings=ThrottleSettings(requests_per_minute=rpm, max_requests_in_progress=in_progress, **settings),
        clock=clock,
        sleep=clock.sleep,
    )


async def start_times(t: Throttle, clock: Clock, count: int, succeed: bool = True) -> list[float]:
    starts = []
    for _ in range(count):
        async with t.slot():
            starts.append(clock.now)
        if succeed:
            t.on_success()
    return starts


async def test_the_first_request_goes_at_once_then_one_per_interval_at_the_starting_rate() -> None:
    clock = Clock()
    t = throttle(clock, rpm=60, increase_per_success=0)  # no growth: the bucket alone
    starts = await start_times(t, clock, 4)
    assert [round(s - starts[0], 3) for s in starts] == [0.0, 1.0, 2.0, 3.0]


async def test_each_success_raises_the_rate_by_one_per_minute() -> None:
    clock = Clock()
    t = throttle(clock, rpm=60)
    await start_times(t, clock, 30)
    assert t.rate == 90 and t.successes == 30
    # and the pace follows: the gap between starts shrinks as the rate grows
    starts = await start_times(t, clock, 3)
    assert starts[2] - starts[1] == pytest.approx(60 / 92, abs=0.01)


async def test_the_rate_grows_up_to_its_maximum_and_no_further() -> None:
    clock = Clock()
    t = throttle(clock, rpm=995)
    for _ in range(20):
        t.on_success()
    assert t.rate == 1000
    high = throttle(clock, rpm=6000)  # a starting rate above the usual ceiling is not cut down to it
    high.on_success()
    assert high.rate == 6000


async def test_a_429_halves_the_rate_and_holds_it_for_the_cooldown() -> None:
    clock = Clock()
    t = throttle(clock, rpm=100)
    t.on_rate_limited()
    assert t.rate == 50
    t.on_success()
    clock.now += 4.9
    t.on_success()
    assert t.rate == 50  # no increase within 5 s of the 429
    clock.now += 0.2
    t.on_success()
    assert t.rate == 51


async def test_the_rate_never_falls_below_one_a_minute() -> None:
    clock = Clock()
    t = throttle(clock, rpm=3)
    for _ in range(10):
        t.on_rate_limited()
    assert t.rate == 1


async def test_the_bucket_holds_one_second_of_tokens_so_a_quiet_spell_allows_a_small_burst() -> None:
    clock = Clock()
    t = throttle(clock, rpm=600, increase_per_success=0)  # 10 a second
    await start_times(t, clock, 1)
    clock.now += 60  # a quiet minute: at most a second's worth (10) accrue
    starts = await start_times(t, clock, 12)
    at_once = sum(1 for s in starts if s == starts[0])
    assert at_once == 10
    assert starts[-1] - starts[0] == pytest.approx(0.2, abs=0.01)


async def test_requests_in_progress_are_capped() -> None:
    t = Throttle(requests_per_minute=60_000, max_requests_in_progress=2)
    inside = 0
    most = 0

    async def one() -> None:
        nonlocal inside, most
        async with t.slot():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(one() for _ in range(6)))
    assert most == 2


async def test_a_full_queue_and_a_long_wait_are_refused_with_the_parameter_to_change() -> None:
    t = Throttle(requests_per_minute=6000, max_requests_in_progress=1, max_requests_waiting_in_queue=0)
    with pytest.raises(ModelThrottled, match="throttle_max_requests_waiting_in_queue"):
        async with t.slot():
            pass
    slow = Throttle(requests_per_minute=1, max_requests_in_progress=1, max_seconds_to_wait_in_queue=0.1)
    async with slow.slot():
        pass
    with pytest.raises(ModelThrottled, match="throttle_max_seconds_to_wait_in_queue"):
        async with slow.slot():
            pass


def test_bad_parameters_name_the_keyword() -> None:
    with pytest.raises(ValueError, match="throttle_requests_per_minute"):
        ThrottleSettings(requests_per_minute=0)
    with pytest.raises(ValueError, match="throttle_max_requests_in_progress"):
        Model("gpt-x", base_url="http://127.0.0.1:9/v1", throttle=True, throttle_max_requests_in_progress=0)


async def test_models_of_one_name_share_one_throttle(llm: ScriptedLLM) -> None:
    """Apps create a throttled Model per agent (code-review 010 does): one limiter per instance would limit
    nothing, so they share the model's, as upstream's per-model queue."""
    a = Model("gpt-shared", throttle=True, throttle_requests_per_minute=6000)
    b = Model("gpt-shared", throttle=True, throttle_requests_per_minute=6000)
    other = Model("gpt-other", throttle=True)
    await a.complete([{"role": "user", "content": "x"}])
    await b.complete([{"role": "user", "content": "y"}])
    assert a._get_throttle() is b._get_throttle() is not other._get_throttle()
    assert a._get_throttle().successes == 2  # type: ignore[union-attr]


async def test_a_throttled_fan_out_speeds_up_beyond_its_starting_rate(llm: ScriptedLLM) -> None:
    """The oncall case: paced at exactly its starting rate of 900 a minute, 40 calls would take 2.6 s;
    growing by one a minute per success (and a second's burst to start), they take less and end faster."""
    model = Model("gpt-grow", throttle=True, throttle_requests_per_minute=900, throttle_max_requests_in_progress=50)
    began = time.monotonic()
    await asyncio.gather(*(model.complete([{"role": "user", "content": str(i)}]) for i in range(40)))
    t = model._get_throttle()
    assert t is not None and t.rate == 940
    assert time.monotonic() - began < 2.6


async def test_429s_from_the_endpoint_slow_the_rate_and_are_retried_on_upstreams_schedule(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(status=429), Reply(status=429), Reply(text="done"))
    model = Model(
        "gpt-limited",
        throttle=True,
        throttle_requests_per_minute=1200,
        throttle_initial_seconds_between_retry_attempts=0.05,
        throttle_max_seconds_between_retry_attempts=0.08,
    )
    began = time.monotonic()
    assert (await model.complete([{"role": "user", "content": "x"}])).text == "done"
    waited = time.monotonic() - began
    t = model._get_throttle()
    assert t is not None and t.rate_limited == 2 and t.rate == 300  # 1200 halved twice, then in cooldown
    assert len(llm.script.requests) == 3
    assert waited >= 0.05 + 0.08  # 0.05 then 0.1 capped at 0.08: no jitter when throttled


async def test_429s_beyond_the_retries_raise_with_the_status(llm: ScriptedLLM) -> None:
    from autonomy.models import ModelRequestError

    llm.script.then(*[Reply(status=429)] * 5)
    model = Model("gpt-refused", throttle=True, throttle_max_retry_attempts=2,
                  throttle_initial_seconds_between_retry_attempts=0.01)
    with pytest.raises(ModelRequestError) as caught:
        await model.complete([{"role": "user", "content": "x"}])
    assert caught.value.status == 429 and len(llm.script.requests) == 3  # the first attempt and 2 retries
