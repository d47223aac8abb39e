"""One SDK client per (event loop, endpoint): a connection pool is bound to the loop that opened it, and
thousands of agents each holding their own pool leak sockets and memory."""

from __future__ import annotations

import asyncio
import os
import resource
import weakref
from collections.abc import Callable
from typing import Any

from autonomy.models.errors import ModelConfigurationError

_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


DEFAULT_MAX_CONNECTIONS = 10_000
# Open files kept for everything but model connections: listeners, peer links, databases, the callers'.
_RESERVED_FILES = 256


def default_max_connections() -> int:
    """10,000, or half of the open-files limit where that is lower: every call in flight holds its
    caller's socket and its model socket, so a node whose model pool could take every file descriptor
    would fail to accept callers (EMFILE) instead of making a few calls wait for a connection."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_CONNECTIONS
    return max(1, min(DEFAULT_MAX_CONNECTIONS, (soft - _RESERVED_FILES) // 2))


def max_connections() -> int:
    """Concurrent calls a node makes to one model endpoint (`AUTONOMY_MODEL_MAX_CONNECTIONS`); calls beyond
    it wait for a free connection, and that wait counts against the call's timeout. The SDKs' default,
    1,000, capped a node at 1,000 conversations thinking at once: with 10,000 in flight and a model taking
    20 s, the other 9,000 timed out waiting (bench/agents_bench.py). A node sheds load before this anyway
    (AUTONOMY_MAX_AGENT_REQUESTS); set it lower for a model server that cannot take that many."""
    raw = os.environ.get("AUTONOMY_MODEL_MAX_CONNECTIONS", "").strip()
    if not raw:
        return default_max_connections()
    if not raw.isdigit() or int(raw) < 1:
        raise ModelConfigurationError(f"AUTONOMY_MODEL_MAX_CONNECTIONS={raw!r}: use a whole number of at least 1")
    return int(raw)


#: Seconds an idle model connection stays in the pool. It must be shorter than the servers' own idle
#: timeouts (uvicorn, Node and Apache close at 5 s, gunicorn at 2 s): at the SDKs' 5 s, equal to
#: uvicorn's, the server closed connections just as the pool handed them out, and each such call failed
#: as "APITimeoutError: Request timed out" and waited a retry's backoff against a model that answers at once.
KEEPALIVE_SECONDS = 1.5


def connection_limits(sdk_default: Any) -> Any:
    """The SDK's own limits type (httpx or httpx2, depending on the SDK's version) with our connection cap;
    every connection may stay open while calls keep coming, so a steady load does not reconnect per call."""
    count = max_connections()
    return type(sdk_default)(
        max_connections=count, max_keepalive_connections=count, keepalive_expiry=KEEPALIVE_SECONDS
    )


def shared_client(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    loop = asyncio.get_running_loop()
    clients = _BY_LOOP.setdefault(loop, {})
    client = clients.get(key)
    if client is None:
        client = clients[key] = build()
    return client


async def close_clients() -> None:
    """Close the clients opened on the running loop (their connection pools), e.g. when a node stops."""
    clients = _BY_LOOP.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        await client.close()
