"""Retries with exponential backoff for the failures worth retrying: 429, 5xx, timeouts, dropped
connections. A `Retry-After` header from the provider wins over our own schedule.

Only the opening of a call is retried: once a streamed answer has started, a retry would repeat text
the caller has already seen.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    initial_delay: float = 1.0
    max_delay: float = 60.0
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if retry_after is not None and retry_after >= 0:
            return float(min(retry_after, self.max_delay))
        base: float = min(self.max_delay, self.initial_delay * 2.0 ** (attempt - 1))
        if not self.jitter:
            return base
        return base * (0.5 + random.random() / 2)  # jitter so a fan-out does not retry in lockstep


#: What a connection the pool kept open looks like when the server had just closed it (its idle timeout):
#: aiohttp's ServerDisconnectedError, which the SDKs' aiohttp transport reports as a *connect timeout*
#: ("APITimeoutError: Request timed out"), httpcore's RemoteProtocolError, or a reset.
_STALE_CONNECTION = {
    "ServerDisconnectedError",
    "RemoteProtocolError",
    "ClientConnectionResetError",
    "ConnectionResetError",
    "BrokenPipeError",
}


def is_stale_connection(error: BaseException) -> bool:
    """True when the request failed because the server closed the pooled connection it went out on;
    such a request never got an answer, and the next connection is a fresh one: retry it at once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ in _STALE_CONNECTION:
            return True
        current = current.__cause__ or current.__context__
    return False


def status_of(error: BaseException) -> int | None:
    """The HTTP status carried by an SDK error, if any (openai and anthropic share the attribute)."""
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def is_retryable(error: BaseException) -> bool:
    status = status_of(error)
    if status is not None:
        return status == 429 or status == 408 or status >= 500
    # openai/anthropic APIConnectionError and APITimeoutError carry no status
    return type(error).__name__ in {"APIConnectionError", "APITimeoutError", "EndpointConnectionError"}


def retry_after_of(error: BaseException) -> float | None:
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
