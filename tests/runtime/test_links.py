"""One link per pair of nodes, also when both dial each other at the same moment."""

from __future__ import annotations

import asyncio

from autonomy import Node

from .conftest import make_zone_ca


class Echo:
    async def handle_message(self, context, message):
        await context.reply(message)


async def test_simultaneous_dials_settle_on_one_link_and_lose_nothing(tmp_path):
    options = dict(http_server=False, registry_dir=tmp_path / "registry", transport_port=0,
                   transport_host="127.0.0.1", zone="race", discovery="local",
                   dev_ca_dir=make_zone_ca(tmp_path / "ca", "race", cluster="local"))
    for attempt in range(20):
        async with Node.serve(name=f"a{attempt}", **options) as a, Node.serve(name=f"b{attempt}", **options) as b:
            await a.start_worker("echo", Echo())
            await b.start_worker("echo", Echo())
            to_b = [a.send_and_receive("echo", f"a->b {i}", node=b.name, timeout=10) for i in range(20)]
            to_a = [b.send_and_receive("echo", f"b->a {i}", node=a.name, timeout=10) for i in range(20)]
            answers = await asyncio.gather(*to_b, *to_a)
            assert answers == [f"a->b {i}" for i in range(20)] + [f"b->a {i}" for i in range(20)]
            assert a._transport.peers() == [b.name] and b._transport.peers() == [a.name]
            link_a, link_b = a._transport.link_if_open(b.name), b._transport.link_if_open(a.name)
            assert link_a is not None and link_b is not None
            assert link_a.dialer == link_b.dialer  # both ends use the same stream


async def test_one_way_flood_into_a_small_remote_mailbox_is_dropped_not_fatal(tmp_path, caplog):
    options = dict(http_server=False, registry_dir=tmp_path / "registry", transport_port=0,
                   transport_host="127.0.0.1", zone="flood", discovery="local",
                   dev_ca_dir=make_zone_ca(tmp_path / "ca", "flood", cluster="local"))

    class Slow:
        def __init__(self) -> None:
            self.seen = 0

        async def handle_message(self, context, message):
            self.seen += 1
            await asyncio.sleep(0.001)
            if context.expects_reply:
                await context.reply(str(self.seen))

    async with Node.serve(name="sender", **options) as a, Node.serve(name="receiver", **options) as b:
        slow = Slow()
        await b.start_worker("slow", slow, mailbox_size=10)
        for i in range(200):
            await a.tell("slow", str(i), node="receiver")
        await asyncio.sleep(0.5)
        assert 10 <= slow.seen < 200
        assert any("dropped" in r.getMessage() and "one-way" in r.getMessage() for r in caplog.records)
        await asyncio.sleep(0.1)
        assert int(await a.send_and_receive("slow", "ping", node="receiver", timeout=5)) > slow.seen - 1
