"""Client-side throttling: a rate that backs off on 429 and creeps back up, a cap on requests in flight,
and a bounded queue with a bounded wait.

Massive fan-out (hundreds of agents on one pod) otherwise turns into a storm of 429s. The rate follows
AIMD: each 429 halves it, each success adds back a little, never above the configured rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from autonomy.models.errors import ModelThrottled


class Throttle:
    def __init__(
        self,
        requests_per_minute: float = 60,
        max_requests_in_progress: int = 10,
        max_requests_waiting_in_queue: int = 1000,
        max_seconds_to_wait_in_queue: float = 300,
    ) -> None:
        if requests_per_minute <= 0 or max_requests_in_progress <= 0:
            raise ValueError("throttle_requests_per_minute and throttle_max_requests_in_progress must be > 0")
        self.max_rate = float(requests_per_minute)
        self.rate = float(requests_per_minute)
        self.max_waiting = max_requests_waiting_in_queue
        self.max_wait = max_seconds_to_wait_in_queue
        self._in_progress = asyncio.Semaphore(max_requests_in_progress)
        self._waiting = 0
        self._next_start = 0.0
        self._pace = asyncio.Lock()

    @property
    def waiting(self) -> int:
        return self._waiting

    def on_rate_limited(self) -> None:
        """Multiplicative decrease: the provider said slow down."""
        self.rate = max(1.0, self.rate / 2)

    def on_success(self) -> None:
        """Additive increase, back towards the configured rate."""
        self.rate = min(self.max_rate, self.rate + 1.0)

    async def _acquire(self) -> None:
        await self._in_progress.acquire()
        try:
            async with self._pace:  # requests start at most `rate` per minute, one after another
                now = time.monotonic()
                delay = self._next_start - now
                if delay > 0:
                    await asyncio.sleep(delay)
                self._next_start = max(now, self._next_start) + 60.0 / self.rate
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
