"""A node dies, restarts, or a peer speaks garbage: the rest of the zone goes on."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from autonomy import Node, PeerGone, Zone
from autonomy.identity import WorkloadId
from autonomy.identity.dev_authority import load_dev_authority

from .conftest import CLUSTER, NAMESPACE, ZONE, issue_leaf
from .test_cross_node import wait_for_nodes


async def test_requests_to_a_killed_node_fail_within_a_second_others_go_on(local_zone, node_options):
    victim = local_zone.start("victim", "runner-pod")
    local_zone.start("survivor", "runner-pod")
    async with Node.serve(name="driver", **node_options) as node:
        await wait_for_nodes(node, 2, "runner")
        pending = [asyncio.ensure_future(node.send_and_receive("slow", "30", node="victim", timeout=60))
                   for _ in range(5)]
        streaming = await node.send("slow", "30", node="victim", timeout=60)
        await asyncio.sleep(0.3)  # the requests are in the victim's hands
        killed_at = time.monotonic()
        victim.kill()
        results = await asyncio.gather(*pending, return_exceptions=True)
        failed_after = time.monotonic() - killed_at
        assert all(isinstance(r, PeerGone) for r in results), results
        with pytest.raises(PeerGone):
            await streaming.receive(timeout=5)
        assert failed_after < 1.0, f"pending requests took {failed_after:.2f} s to fail"
        assert await node.send_and_receive("echo", "alive?", node="survivor", timeout=5) == "echo:alive?"
        # The dead node is gone from discovery too.
        assert [r.name for r in await Zone.nodes(node, filter="runner")] == ["survivor"]


async def test_restarted_node_rejoins_under_its_name(local_zone, node_options):
    first = local_zone.start("phoenix", "runner-pod")
    async with Node.serve(name="driver", **node_options) as node:
        await wait_for_nodes(node, 1, "runner")
        assert await node.send_and_receive("echo", "one", node="phoenix", timeout=5) == "echo:one"
        first.kill()
        with pytest.raises(PeerGone):
            for _ in range(50):  # the link drop is noticed at once; sends then fail fast
                await node.send_and_receive("echo", "two", node="phoenix", timeout=5)
                await asyncio.sleep(0.02)
        local_zone.start("phoenix", "runner-pod")
        deadline = time.monotonic() + 10
        while True:
            try:
                assert await node.send_and_receive("echo", "three", node="phoenix", timeout=5) == "echo:three"
                break
            except PeerGone:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def test_peer_speaking_garbage_is_dropped_and_node_lives_on(local_zone, node_options):
    target = local_zone.start("target", "runner-pod")
    # A peer of the zone (its certificate is valid) that then speaks garbage.
    authority = load_dev_authority(local_zone.ca_dir)
    key_pem, cert_pem = issue_leaf(authority, WorkloadId(CLUSTER, NAMESPACE, ZONE, "garbler"))
    credentials = grpc.ssl_channel_credentials(authority.certificate_pem(), key_pem, cert_pem)
    server_name = [("grpc.ssl_target_name_override", WorkloadId(CLUSTER, NAMESPACE, ZONE, "target").dns_name)]
    async with Node.serve(name="driver", **node_options) as node:
        info = await node._discovery.resolve("target")
        assert info is not None
        async with grpc.aio.secure_channel(f"{info.host}:{info.port}", credentials, options=server_name) as channel:
            call = channel.stream_stream("/autonomy.transport.v1.Transport/Connect",
                                         request_serializer=lambda b: b, response_deserializer=lambda b: b)()
            await call.write(b"\xff\xfe this is not a protobuf frame \x00\x01")
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await asyncio.wait_for(call.read(), 5)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "no valid hello" in refused.value.details()
        # The node still serves its zone.
        assert target.alive()
        assert await node.send_and_receive("echo", "ok", node="target", timeout=5) == "echo:ok"


async def test_sigterm_stops_cleanly_and_leaves_the_registry(local_zone, node_options):
    node_process = local_zone.start("leaver", "runner-pod")
    entry = local_zone.registry / "leaver.json"
    assert entry.exists()
    assert node_process.terminate(timeout=15) == 0
    assert not entry.exists()
