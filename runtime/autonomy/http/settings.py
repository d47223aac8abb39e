"""The HTTP layer's settings, read from the environment once, when the server is made.

A bad value stops the node at start with a message that names the variable and says what it takes.
Sizes take units (`1MiB`, `512 KiB`, `2MB`, or plain bytes); timeouts are seconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import pydantic

MiB = 1024 * 1024
_BYTES: pydantic.TypeAdapter[pydantic.ByteSize] = pydantic.TypeAdapter(pydantic.ByteSize)


def _size(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(_BYTES.validate_python(raw))
    except pydantic.ValidationError:
        raise ValueError(f"{name}={raw!r} is not a size: use bytes or a unit, e.g. 1048576, 512KiB or 1MiB") from None
    if value < 1:
        raise ValueError(f"{name}={raw!r} must be at least 1 byte")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number, e.g. {default}") from None
    if value < 1:
        raise ValueError(f"{name}={value} must be >= 1")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds, e.g. {default:g}") from None
    if not 0 < value <= 3600:
        raise ValueError(f"{name}={raw!r} must be more than 0 and at most 3600 seconds")
    return value


@dataclass(frozen=True)
class HttpSettings:
    #: Largest agent request body, in bytes (413 beyond, read no further).
    max_request_bytes: int = MiB
    #: Agent calls in flight on this node before it answers 503 + Retry-After.
    max_agent_requests: int = 20_000
    #: Seconds a client has to send a request's headers, and again its body; idle keep-alive connections
    #: close after as long.
    read_timeout: float = 5.0
    #: Largest request head (request line and headers), in bytes (431 beyond).
    max_header_bytes: int = 64 * 1024

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> HttpSettings:
        env = os.environ if env is None else env
        return cls(
            max_request_bytes=_size(env, "AUTONOMY_MAX_REQUEST_BYTES", cls.max_request_bytes),
            max_agent_requests=_count(env, "AUTONOMY_MAX_AGENT_REQUESTS", cls.max_agent_requests),
            read_timeout=_seconds(env, "AUTONOMY_HTTP_READ_TIMEOUT", cls.read_timeout),
            max_header_bytes=_size(env, "AUTONOMY_MAX_HEADER_BYTES", cls.max_header_bytes),
        )
