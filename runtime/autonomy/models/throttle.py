"""Client-side throttling as upstream's `Model(throttle=True)`: an adaptive (AIMD) rate, a cap on requests
in flight, and a bounded queue with a bounded wait.

`throttle_requests_per_minute` is where the rate *starts*, not a cap: every success adds one request per
minute, up to `max_requests_per_minute` (1,000, or the starting rate if that is higher); every 429 halves
it (never below one a minute) and holds it there for a cooldown of 5 s. Requests start from a token
bucket that refills at the current rate and holds at most one second of tokens (at least one), so a
burst after a quiet spell is small. So a fan-out of 150 agents starting at 60 a minute speeds up as the
provider keeps answering, instead of crawling at one a second, and slows down as soon as it says 429.

Every `Model` of the same name and endpoint in a process (on one event loop) shares one throttle, as
upstream's per-model queue does: apps create a `Model(throttle=True)` per agent, and a limiter per
instance would limit nothing. The first one's parameters hold.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from autonomy.models.errors import ModelThrottled

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class ThrottleSettings:
    """Upstream's parameters, named as `Model`'s `throttle_*` keywords, and its fixed AIMD constants."""

    requests_per_minute: float = 60.0
    max_requests_in_progress: int = 10
    max_requests_waiting_in_queue: int = 1000
    max_seconds_to_wait_in_queue: float = 300.0
    max_requests_per_minute: float = 1000.0
    min_requests_per_minute: float = 1.0
    increase_per_success: float = 1.0  # requests per minute added by each success
    decrease_factor: float = 0.5  # the rate is multiplied by this on a 429
    cooldown_seconds: float = 5.0  # no increase for this long after a 429

    def __post_init__(self) -> None:
        checks = {
            "throttle_requests_per_minute": self.requests_per_minute > 0,
            "throttle_max_requests_in_progress": self.max_requests_in_progress >= 1,
            "throttle_max_requests_waiting_in_queue": self.max_requests_waiting_in_queue >= 0,
            "throttle_max_seconds_to_wait_in_queue": self.max_seconds_to_wait_in_queue > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"Model({name}=...): must be greater than zero (a queue size may be 0)")


class Throttle:
    def __init__(
        self,
        requests_per_minute: float = 60,
        max_requests_in_progress: int = 10,
        max_requests_waiting_in_queue: int = 1000,
        max_seconds_to_wait_in_queue: float = 300,
        *,
        settings: ThrottleSettings | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings or ThrottleSettings(
            requests_per_minute=float(requests_per_minute),
            max_requests_in_progress=int(max_requests_in_progress),
            max_requests_waiting_in_queue=int(max_requests_waiting_in_queue),
            max_seconds_to_wait_in_queue=float(max_seconds_to_wait_in_queue),
        )
        s = self.settings
        self.max_rate = max(s.max_requests_per_minute, s.requests_per_minute)
        self.min_rate = min(s.min_requests_per_minute, s.requests_per_minute)
        self.rate = s.requests_per_minute  # requests per minute, now
        self.max_waiting = s.max_requests_waiting_in_queue
        self.max_wait = s.max_seconds_to_wait_in_queue
        self._clock = clock
        self._sleep = sleep
        self._tokens = self._capacity()  # the first request goes at once
        self._refilled_at = clock()
        self._rate_limited_at: float | None = None
        self._in_progress = asyncio.Semaphore(s.max_requests_in_progress)
        self._bucket = asyncio.Lock()  # waiters take tokens in arrival order
        self._waiting = 0
        self.successes = 0
        self.rate_limited = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    def _capacity(self) -> float:
        return max(1.0, self.rate / 60.0)  # one second of tokens, at least one

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity(), self._tokens + (now - self._refilled_at) * self.rate / 60.0)
        self._refilled_at = now

    def on_success(self) -> None:
        """Additive increase, unless a 429 came less than a cooldown ago."""
        self.successes += 1
        if self._rate_limited_at is not None and self._clock() - self._rate_limited_at < self.settings.cooldown_seconds:
            return
        self._refill()  # tokens so far accrued at the old rate
        self.rate = min(self.max_rate, self.rate + self.settings.increase_per_success)

    def on_rate_limited(self) -> None:
        """Multiplicative decrease: the provider said slow down."""
        self.rate_limited += 1
        self._refill()
        self._rate_limited_at = self._clock()
        self.rate = max(self.min_rate, self.rate * self.settings.decrease_factor)
        self._tokens = min(self._tokens, self._capacity())

    async def _take_token(self) -> None:
        async with self._bucket:
            while True:
                self._refill()
                if self._tokens >= 1.0 - 1e-9:  # what float rounding leaves of a whole token is one
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                # short naps: the rate may rise (successes) while this request waits
                await self._sleep(min(0.1, (1.0 - self._tokens) * 60.0 / self.rate))

    async def _acquire(self) -> None:
        await self._in_progress.acquire()
        try:
            await self._take_token()
        except BaseException:
            self._in_progress.release()
            raise

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one request slot; raise `ModelThrottled` when the queue is full or the wait too long."""
        if self._waiting >= self.max_waiting:
            raise ModelThrottled(
                f"model throttle queue is full ({self.max_waiting} waiting): "
                "raise throttle_max_requests_waiting_in_queue or send less at once"
            )
        self._waiting += 1
        try:
            await asyncio.wait_for(self._acquire(), self.max_wait)
        except TimeoutError as error:
            raise ModelThrottled(
                f"waited over {self.max_wait}s in the model throttle queue: "
                "raise throttle_max_seconds_to_wait_in_queue or throttle_requests_per_minute"
            ) from error
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._in_progress.release()


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Throttle]] = (
    weakref.WeakKeyDictionary()
)


def shared_throttle(key: tuple[Any, ...], settings: ThrottleSettings) -> Throttle:
    """The throttle of `key` (provider, endpoint, model) on the running loop; the first settings hold."""
    throttles = _SHARED.setdefault(asyncio.get_running_loop(), {})
    throttle = throttles.get(key)
    if throttle is None:
        throttle = throttles[key] = Throttle(settings=settings)
    return throttle
