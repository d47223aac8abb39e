"""Mailboxes: where replies (and messages sent to a named mailbox) wait until someone receives them.

`node.send()` returns one; `receive()` can be called again and again for streamed replies. A mailbox
that is dropped by its owner simply disappears: the node holds it weakly.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from autonomy.errors import AutonomyError, DeadlineExceeded

#: How a mailbox sends on behalf of its owner: (address, message, node, reply_to) -> awaitable.
SendFunction = Callable[[str, str, "str | None", "Mailbox", "float | None"], Awaitable[None]]


class Mailbox:
    """A queue of incoming strings with a waiting receiver; also a reply target for what it sends."""

    __slots__ = ("__weakref__", "_closed", "_items", "_send", "_waiter", "address", "deadline", "peers")

    def __init__(self, address: str, send: SendFunction, deadline: float | None = None) -> None:
        self.address = address
        self._send = send
        self._items: deque[str | AutonomyError] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        #: Loop time after which `receive()` without a timeout gives up (the request's deadline).
        self.deadline = deadline
        #: Remote nodes this mailbox has sent to: if one's link drops, the mailbox is failed at once.
        self.peers: set[str] = set()

    # -- the receiving side -------------------------------------------------------------------------

    def put(self, item: str | AutonomyError) -> None:
        """Queue a message (or an error to raise from `receive`); wakes the receiver."""
        if self._closed:
            return
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, error: AutonomyError) -> None:
        self.put(error)

    async def reply(self, message: str) -> None:
        self.put(message)

    async def receive(self, timeout: float | None = None, *, policy: Any = None) -> str:
        """The next message; raises DeadlineExceeded after `timeout` seconds (or the request's deadline).

        `policy` is accepted as upstream's signature has it (`receive(policy=None, timeout=None)`), and unused
        as upstream leaves it: who may reach a mailbox is settled by the zone's links."""
        if not self._items:
            loop = asyncio.get_running_loop()
            if timeout is None and self.deadline is not None:
                timeout = max(0.0, self.deadline - loop.time())
            self._waiter = waiter = loop.create_future()
            try:
                if timeout is None:
                    await waiter
                else:
                    await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                raise DeadlineExceeded(
                    f"no message for mailbox {self.address!r} within {timeout:.3g} s"
                ) from None
            finally:
                self._waiter = None
        item = self._items.popleft()
        if isinstance(item, AutonomyError):
            raise item
        return item

    def pending(self) -> int:
        return len(self._items)

    # -- the sending side ---------------------------------------------------------------------------

    async def send(self, address: str, message: str, node: str | None = None, **_: Any) -> None:
        """Send `message` to `address` (on `node`), with this mailbox as the reply-to address."""
        await self._send(address, message, node, self, None)

    def close(self) -> None:
        self._closed = True
        self._items.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.cancel()


#: Upstream exports its (Rust) mailbox class as `RustMailbox`; this runtime's mailbox is this one.
RustMailbox = Mailbox
