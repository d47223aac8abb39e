"""Three and more real node processes on loopback: discovery, request/reply, multi-reply, shipped workers."""

from __future__ import annotations

import asyncio
import json

import pytest

from autonomy import AddressNotFound, MessageTooLarge, Node, PeerGone, Zone

from .conftest import make_zone_ca


class Adder:
    """Shipped to runner nodes: keeps a running total (state lives on the runner)."""

    def __init__(self, start: int) -> None:
        self.total = start

    async def handle_message(self, context, message):
        self.total += int(message)
        await context.reply(json.dumps({"total": self.total, "node": self.node.name}))


async def wait_for_nodes(node: Node, count: int, filter: str | None = None, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await Zone.nodes(node, filter=filter)
        if len(found) >= count or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_discovery_finds_runner_clones_by_pod_substring(local_zone, node_options):
    local_zone.start("z-runner-pod-0", "runner-pod")
    local_zone.start("z-runner-pod-1", "runner-pod")
    local_zone.start("z-other-pod-0", "other-pod")
    async with Node.serve(name="z-main-pod-0", **node_options) as node:
        runners = await wait_for_nodes(node, 2, "runner")
        assert sorted(r.name for r in runners) == ["z-runner-pod-0", "z-runner-pod-1"]
        everyone = await Zone.nodes(node)
        assert {r.name for r in everyone} == {"z-runner-pod-0", "z-runner-pod-1", "z-other-pod-0", "z-main-pod-0"}
        assert (await Zone.node(node, "z-other-pod-0")).pod == "other-pod"
        assert await Zone.node(node, "missing") is None


async def test_request_reply_and_multi_reply_across_nodes(local_zone, node_options):
    local_zone.start("r1", "runner-pod")
    local_zone.start("r2", "runner-pod")
    async with Node.serve(name="driver", **node_options) as node:
        await wait_for_nodes(node, 2, "runner")
        answers = await asyncio.gather(*(node.send_and_receive("whoami", f"m{i}", node=f"r{1 + i % 2}", timeout=5)
                                         for i in range(50)))
        assert [json.loads(a)["node"] for a in answers] == [f"r{1 + i % 2}" for i in range(50)]
        assert [json.loads(a)["message"] for a in answers] == [f"m{i}" for i in range(50)]

        mailbox = await node.send("multi", "4", node="r1")
        assert [await mailbox.receive(timeout=5) for _ in range(4)] == [f"part {i}" for i in range(4)]
        with pytest.raises(asyncio.TimeoutError):
            await mailbox.receive(timeout=0.2)


async def test_worker_shipped_to_remote_node_runs_there(local_zone, node_options):
    local_zone.start("r1", "runner-pod")
    local_zone.start("r2", "runner-pod")
    async with Node.serve(name="driver", **node_options) as node:
        runners = await wait_for_nodes(node, 2, "runner")
        for i, runner in enumerate(runners):
            await runner.start_worker("adder", Adder(start=100 * i))
        results = [json.loads(await r.send_and_receive("adder", "5", timeout=5)) for r in runners]
        results += [json.loads(await r.send_and_receive("adder", "1", timeout=5)) for r in runners]
        assert results == [
            {"total": 5, "node": runners[0].name}, {"total": 105, "node": runners[1].name},
            {"total": 6, "node": runners[0].name}, {"total": 106, "node": runners[1].name},
        ]
        assert {"name": "adder"} in await runners[0].list_workers()
        await runners[0].stop_worker("adder")
        assert {"name": "adder"} not in await runners[0].list_workers()
        with pytest.raises(AddressNotFound):
            await runners[0].send_and_receive("adder", "1", timeout=5)


async def test_bad_input_gets_clear_errors(local_zone, node_options):
    local_zone.start("r1", "runner-pod")
    async with Node.serve(name="driver", max_message_bytes=1000, **node_options) as node:
        await wait_for_nodes(node, 1, "runner")
        with pytest.raises(AddressNotFound, match="'nobody' on node 'r1'"):
            await node.send_and_receive("nobody", "hi", node="r1", timeout=5)
        with pytest.raises(MessageTooLarge, match="1000-byte limit"):
            await node.send_and_receive("echo", "x" * 1001, node="r1", timeout=5)
        with pytest.raises(TypeError, match=r"json\.dumps"):
            await node.send_and_receive("echo", {"not": "a string"}, node="r1", timeout=5)  # type: ignore[arg-type]
        assert await node.send_and_receive("echo", "still fine", node="r1", timeout=5) == "echo:still fine"


async def test_node_of_another_zone_cannot_reach_this_one(local_zone, node_options, tmp_path):
    # It finds r1 (the registry is shared), but its CA is its own zone's: the TLS handshake fails.
    local_zone.start("r1", "runner-pod")
    options = dict(node_options, zone="otherzone", dev_ca_dir=make_zone_ca(tmp_path / "other-ca", "otherzone"))
    async with Node.serve(name="intruder", **options) as node:
        with pytest.raises(PeerGone, match="cannot reach node 'r1'"):
            await node.send_and_receive("echo", "let me in", node="r1", timeout=5)


async def test_node_with_the_ca_of_another_zone_does_not_start(local_zone, node_options):
    with pytest.raises(ValueError, match=r"is the CA of zone testcluster/local/testzone.*check CLUSTER"):
        async with Node.serve(name="lost", **dict(node_options, zone="otherzone")):
            pass
