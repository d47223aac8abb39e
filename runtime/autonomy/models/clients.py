"""One SDK client per (event loop, endpoint): a connection pool is bound to the loop that opened it, and
thousands of agents each holding their own pool leak sockets and memory."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


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
