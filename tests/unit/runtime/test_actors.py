"""Actors on one node: order, one message at a time, bounded mailboxes, no task per idle actor."""

from __future__ import annotations

import asyncio
import gc

import pytest

from autonomy import AddressNotFound, MailboxFull, Node, WorkerError
from autonomy.actors import Overflow


@pytest.fixture
async def node(tmp_path):
    async with Node.serve(name="solo", http_server=False, discovery="none", transport_port=0,
                          transport_host="127.0.0.1") as node:
        yield node


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.seen: list[str] = []
        self.active = 0
        self.max_active = 0
        self.delay = delay

    async def handle_message(self, context, message):
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.seen.append(message)
        self.active -= 1
        await context.reply(f"ok {message}")


async def test_messages_are_handled_in_order_one_at_a_time(node):
    worker = Recorder(delay=0.001)
    await node.start_worker("rec", worker)
    replies = await asyncio.gather(*(node.send_and_receive("rec", str(i), timeout=5) for i in range(100)))
    assert replies == [f"ok {i}" for i in range(100)]
    assert worker.seen == [str(i) for i in range(100)]
    assert worker.max_active == 1


async def test_idle_actors_hold_no_task_and_no_queue(node):
    before = len(asyncio.all_tasks())
    for i in range(1000):
        await node.start_worker(f"w{i}", Recorder())
    assert len(asyncio.all_tasks()) == before
    await node.tell("w7", "hello")
    await asyncio.sleep(0)  # the drain task runs once, then ends
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before
    cell = node._actors._actors["w7"]
    assert cell.queue is None and not cell.scheduled
    assert node._actors.get_worker("w7").seen == ["hello"]


async def test_bounded_mailbox_rejects_overflow_with_clear_error(node):
    await node.start_worker("tiny", Recorder(delay=0.05), mailbox_size=3)
    for i in range(3):
        await node.tell("tiny", str(i))
    with pytest.raises(MailboxFull, match=r"'tiny' is full \(3 messages waiting\)"):
        await node.tell("tiny", "one too many")


async def test_drop_oldest_policy_fails_the_dropped_request(node):
    worker = Recorder(delay=0.05)
    await node.start_worker("lossy", worker, mailbox_size=2, overflow=Overflow.DROP_OLDEST)
    await node.tell("lossy", "first")  # being handled: no longer in the queue
    await asyncio.sleep(0.01)
    oldest = await node.send("lossy", "oldest", timeout=5)
    await node.tell("lossy", "middle")
    await node.tell("lossy", "newest")  # pushes "oldest" out
    with pytest.raises(MailboxFull, match="dropped"):
        await oldest.receive(timeout=5)
    await asyncio.sleep(0.3)
    assert worker.seen == ["first", "middle", "newest"]


async def test_unknown_address_and_stopped_worker_fail_at_once(node):
    with pytest.raises(AddressNotFound, match="'ghost'"):
        await node.send_and_receive("ghost", "boo", timeout=5)
    await node.start_worker("brief", Recorder(delay=0.2))
    first = await node.send("brief", "a", timeout=5)
    second = await node.send("brief", "b", timeout=5)
    await asyncio.sleep(0.05)
    await node.stop_worker("brief")
    assert await first.receive(timeout=5) == "ok a"  # the message in hand completes
    with pytest.raises(AddressNotFound, match="stopped"):
        await second.receive(timeout=5)
    with pytest.raises(AddressNotFound):
        await node.stop_worker("brief")


async def test_bad_worker_and_names_are_refused(node):
    with pytest.raises(WorkerError, match="handle_message"):
        await node.start_worker("nope", object())
    with pytest.raises(ValueError, match="invalid worker name"):
        await node.start_worker("has space", Recorder())
    await node.start_worker("taken", Recorder())
    with pytest.raises(WorkerError, match="already taken"):
        await node.start_worker("taken", Recorder())


async def test_worker_exception_reaches_the_requester_not_the_node(node):
    class Broken:
        async def handle_message(self, context, message):
            raise ValueError("bad input " + message)

    from autonomy import RemoteError

    await node.start_worker("broken", Broken())
    with pytest.raises(RemoteError, match="ValueError: bad input x"):
        await node.send_and_receive("broken", "x", timeout=5)
    await node.start_worker("fine", Recorder())
    assert await node.send_and_receive("fine", "y", timeout=5) == "ok y"


async def test_dropped_mailboxes_are_forgotten(node):
    await node.start_worker("rec", Recorder())
    for _ in range(100):
        await node.send_and_receive("rec", "x", timeout=5)
        await node.send("rec", "fire", timeout=5)  # the caller drops the mailbox
    await asyncio.sleep(0.01)
    gc.collect()
    assert len(node._actors.mailboxes()) == 0


async def test_receive_times_out_with_deadline_exceeded(node):
    from autonomy import DeadlineExceeded

    await node.start_worker("slow", Recorder(delay=1.0))
    with pytest.raises(DeadlineExceeded):
        await node.send_and_receive("slow", "x", timeout=0.05)
    with pytest.raises(asyncio.TimeoutError):  # upstream code catches the asyncio name
        await node.send_and_receive("slow", "x", timeout=0.05)
