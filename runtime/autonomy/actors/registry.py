"""The actors of one node: who lives at which address, and local delivery.

Each actor is a cell: its worker, a bounded queue created only while messages wait, and a flag that
says whether a drain task is scheduled. An idle actor therefore costs a small slotted object and a
dict entry, no asyncio task; the first message schedules one drain task, which handles messages one
at a time, in order, until the queue is empty and then ends.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import weakref
from collections import deque
from typing import Any

from autonomy.actors.context import Context, ReplyTarget
from autonomy.actors.mailbox import Mailbox
from autonomy.errors import AddressNotFound, DeadlineExceeded, MailboxFull, RemoteError, WorkerError

logger = logging.getLogger("autonomy.node")

DEFAULT_MAILBOX_SIZE = 10_000


class Overflow(enum.StrEnum):
    """What a full mailbox does with one more message."""

    REJECT = "reject"  # refuse the new message: the sender gets MailboxFull
    DROP_OLDEST = "drop_oldest"  # drop the oldest waiting message (its sender gets MailboxFull)


# A queued message: (body, reply target or None, blob, deadline in loop time or 0.0).
_Item = tuple[str, ReplyTarget | None, bytes, float]


class ActorCell:
    __slots__ = ("address", "capacity", "hidden", "overflow", "queue", "registry", "scheduled", "stopped",
                 "worker")

    def __init__(self, registry: ActorRegistry, address: str, worker: Any, capacity: int,
                 overflow: Overflow, hidden: bool) -> None:
        self.registry = registry
        self.address = address
        self.worker = worker
        self.capacity = capacity
        self.overflow = overflow
        self.hidden = hidden
        self.queue: deque[_Item] | None = None
        self.scheduled = False
        self.stopped = False

    def post(self, body: str, reply: ReplyTarget | None, blob: bytes = b"", deadline: float = 0.0) -> None:
        queue = self.queue
        if queue is None:
            queue = self.queue = deque()
        elif len(queue) >= self.capacity:
            if self.overflow is Overflow.REJECT:
                raise MailboxFull(f"mailbox of {self.address!r} is full ({self.capacity} messages waiting)")
            _, dropped_reply, _, _ = queue.popleft()
            if dropped_reply is not None:
                dropped_reply.fail(MailboxFull(f"dropped: mailbox of {self.address!r} overflowed"))
        queue.append((body, reply, blob, deadline))
        if not self.scheduled:
            self.scheduled = True
            self.registry.spawn(self.drain())

    async def drain(self) -> None:
        queue = self.queue
        assert queue is not None
        handle = self.worker.handle_message
        loop_time = asyncio.get_running_loop().time
        address = self.address
        try:
            while queue and not self.stopped:
                body, reply, blob, deadline = queue.popleft()
                if deadline and loop_time() > deadline:
                    if reply is not None:
                        reply.fail(DeadlineExceeded(f"request to {address!r} expired before it was handled"))
                    continue
                try:
                    await handle(Context(address, reply, blob), body)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # a worker's failure must not take the node down
                    logger.exception("worker %r failed on a message", address)
                    if reply is not None:
                        reply.fail(RemoteError(f"worker {address!r} raised {type(error).__name__}: {error}"))
        finally:
            # Normal end: the queue is empty. Stopped or cancelled (node shutdown): fail what is left.
            self.scheduled = False
            while queue:
                _, reply, _, _ = queue.popleft()
                if reply is not None:
                    reply.fail(AddressNotFound(f"worker {address!r} stopped before handling the message"))
            self.queue = None


class ActorRegistry:
    """Addresses on one node, mapped to actor cells (held strongly) and mailboxes (held weakly)."""

    def __init__(self, node_name: str) -> None:
        self.node_name = node_name
        self._actors: dict[str, ActorCell] = {}
        self._mailboxes: weakref.WeakValueDictionary[str, Mailbox] = weakref.WeakValueDictionary()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- membership ---------------------------------------------------------------------------------

    def add(self, address: str, worker: Any, *, capacity: int = DEFAULT_MAILBOX_SIZE,
            overflow: Overflow = Overflow.REJECT, hidden: bool = False) -> None:
        if not callable(getattr(worker, "handle_message", None)):
            raise WorkerError(
                f"cannot start {type(worker).__name__} at {address!r}: a worker needs "
                "`async def handle_message(self, context, message)`"
            )
        if address in self._actors or address in self._mailboxes:
            raise WorkerError(f"address {address!r} is already taken on node {self.node_name!r}")
        if capacity < 1:
            raise WorkerError(f"mailbox capacity must be >= 1, got {capacity}")
        self._actors[address] = ActorCell(self, address, worker, capacity, Overflow(overflow), hidden)

    def remove(self, address: str) -> None:
        cell = self._actors.pop(address, None)
        if cell is None:
            raise AddressNotFound(f"no worker at {address!r} on node {self.node_name!r}")
        cell.stopped = True
        if cell.queue and not cell.scheduled:
            while cell.queue:
                _, reply, _, _ = cell.queue.popleft()
                if reply is not None:
                    reply.fail(AddressNotFound(f"worker {address!r} stopped"))

    def add_mailbox(self, mailbox: Mailbox) -> None:
        if mailbox.address in self._actors or mailbox.address in self._mailboxes:
            raise WorkerError(f"address {mailbox.address!r} is already taken on node {self.node_name!r}")
        self._mailboxes[mailbox.address] = mailbox

    def get_worker(self, address: str) -> Any | None:
        cell = self._actors.get(address)
        return cell.worker if cell is not None else None

    def names(self, include_hidden: bool = False) -> list[str]:
        return [a for a, c in self._actors.items() if include_hidden or not c.hidden]

    def __len__(self) -> int:
        return len(self._actors)

    # -- delivery -----------------------------------------------------------------------------------

    def post(self, address: str, body: str, reply: ReplyTarget | None = None, blob: bytes = b"",
             deadline: float = 0.0) -> None:
        """Deliver to the actor or mailbox at `address`; raises AddressNotFound or MailboxFull."""
        cell = self._actors.get(address)
        if cell is not None:
            cell.post(body, reply, blob, deadline)
            return
        mailbox = self._mailboxes.get(address)
        if mailbox is None:
            raise AddressNotFound(f"no worker or mailbox at {address!r} on node {self.node_name!r}")
        mailbox.put(body)

    def mailbox(self, address: str) -> Mailbox | None:
        return self._mailboxes.get(address)

    def mailboxes(self) -> list[Mailbox]:
        return list(self._mailboxes.values())

    # -- tasks --------------------------------------------------------------------------------------

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        """Wait (up to `timeout` s) for in-flight messages to be handled, then cancel what is left."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
