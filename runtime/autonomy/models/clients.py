"""One SDK client per (event loop, endpoint): a connection pool is bound to the loop that opened it, and
thousands of agents each holding their own pool leak sockets and memory."""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable
from typing import Any

from autonomy.models.errors import ModelConfigurationError

_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


DEFAULT_MAX_CONNECTIONS = 1000


def max_connections() -> int:
    """Concurrent calls a node makes to one model endpoint (`AUTONOMY_MODEL_MAX_CONNECTIONS`); calls beyond
    it wait for a free connection. The SDKs' default, 1,000, caps a node at 1,000 conversations thinking at once."""
    raw = os.environ.get("AUTONOMY_MODEL_MAX_CONNECTIONS", "").strip()
    if not raw:
        return DEFAULT_MAX_CONNECTIONS
    if not raw.isdigit() or int(raw) < 1:
        raise ModelConfigurationError(f"AUTONOMY_MODEL_MAX_CONNECTIONS={raw!r}: use a whole number of at least 1")
    return int(raw)


def connection_limits(sdk_default: Any) -> Any:
    """The SDK's own limits type (httpx or httpx2, depending on the SDK's version) with our connection cap;
    every connection may stay open, so a steady load does not reconnect per call."""
    count = max_connections()
    return type(sdk_default)(max_connections=count, max_keepalive_connections=count)


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
