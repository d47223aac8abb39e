"""Kubernetes discovery against a real apiserver: pods of the zone, by label, Running + Ready + IP only."""

from __future__ import annotations

import asyncio
import json

import pytest

from autonomy import Node, Zone
from autonomy.identity import LocalAuthorityIssuer, ZoneAuthority

pytestmark = pytest.mark.control_plane


def pod(name: str, zone: str, seed_pod: str, schedulable: bool = True) -> dict:
    spec: dict = {"containers": [{"name": "node", "image": "autonomy-node:test"}]}
    if not schedulable:
        spec["nodeSelector"] = {"no-such-node": "anywhere"}  # stays Pending: never a node
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"autonomy.computer/zone": zone, "autonomy.computer/pod": seed_pod}},
        "spec": spec,
    }


async def eventually(check, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_zone_nodes_lists_ready_pods_of_the_zone_only(k8s, namespace, monkeypatch):
    pods = [
        pod("shop-runner-pod-a", "shop", "runner-pod"),
        pod("shop-runner-pod-b", "shop", "runner-pod"),
        pod("shop-main-pod-a", "shop", "main-pod"),
        pod("shop-runner-pod-pending", "shop", "runner-pod", schedulable=False),
        pod("other-runner-pod-a", "other", "runner-pod"),
    ]
    k8s.kubectl("apply", "-n", namespace, "-f", "-", input="\n---\n".join(json.dumps(p) for p in pods))
    monkeypatch.setenv("KUBECONFIG", str(k8s.kubeconfig))
    # Discovery is what is tested here; the certificate comes from a zone CA in this process (in a pod it
    # comes through the CSR API, tested with the operator).
    issuer = LocalAuthorityIssuer(ZoneAuthority.create("c1", namespace, "shop"))
    async with Node.serve(name="shop-main-pod-a", http_server=False, discovery="kubernetes", namespace=namespace,
                          cluster="c1", zone="shop", transport_port=0, transport_host="127.0.0.1",
                          issuer=issuer) as node:

        async def runners():
            found = sorted(r.name for r in await Zone.nodes(node, filter="runner"))
            return found if found == ["shop-runner-pod-a", "shop-runner-pod-b"] else None

        assert await eventually(runners) == ["shop-runner-pod-a", "shop-runner-pod-b"]
        everyone = {r.name: r.pod for r in await Zone.nodes(node)}
        assert everyone == {"shop-runner-pod-a": "runner-pod", "shop-runner-pod-b": "runner-pod",
                            "shop-main-pod-a": "main-pod"}
        info = await node._discovery.resolve("shop-runner-pod-a")
        assert info is not None and info.host and info.port == 50051

        # The watch sees deletions: a deleted clone is no longer a node.
        k8s.kubectl("delete", "pod", "-n", namespace, "shop-runner-pod-b", "--wait=false")

        async def one_left():
            found = [r.name for r in await Zone.nodes(node, filter="runner")]
            return found if found == ["shop-runner-pod-a"] else None

        assert await eventually(one_left) == ["shop-runner-pod-a"]
