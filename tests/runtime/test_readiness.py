"""`/readyz` over a real socket: 503 with a reason until the node has joined its zone, and again once it
is asked to stop; 200 only in between.

The HTTP server is started on its own before the node here, so that every step of the node's start can
be seen from outside (in a pod, the kubelet probes whatever is up).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from autonomy import HttpServer, Node
from autonomy.discovery.base import NodeInfo
from autonomy.discovery.local import LocalDiscovery
from autonomy.node.settings import NodeSettings


class GatedDiscovery(LocalDiscovery):
    """Local discovery whose announcement waits until the test opens the gate."""

    def __init__(self, registry: Any) -> None:
        super().__init__(registry)
        self.gate = asyncio.Event()
        self.reached = asyncio.Event()

    async def start(self, me: NodeInfo) -> None:
        self.reached.set()
        await self.gate.wait()
        await super().start(me)


async def readyz(http: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await http.get("/readyz")
    return response.status_code, response.json()


async def test_readyz_is_503_until_transport_and_discovery_are_up_and_while_stopping(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    discovery = GatedDiscovery(tmp_path)
    monkeypatch.setattr(Node, "_make_discovery", lambda self: discovery)
    settings = NodeSettings(name="ready-1", zone="web", transport_host="127.0.0.1", transport_port=0)
    node = Node(settings, http_server=False)
    server = HttpServer(listen_address="127.0.0.1:0")
    await server.start(node)
    starting: asyncio.Task[None] | None = None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            assert (await http.get("/healthz")).status_code == 200  # the process serves: alive, not ready
            assert await readyz(http) == (
                503,
                {"status": "not ready", "node": "ready-1", "reason": "starting: the transport is not listening yet"},
            )

            starting = asyncio.ensure_future(node._start())
            await asyncio.wait_for(discovery.reached.wait(), 10)  # listening, not yet announced
            assert node.transport_port > 0
            assert await readyz(http) == (
                503,
                {"status": "not ready", "node": "ready-1", "reason": "starting: not announced to discovery yet"},
            )

            discovery.gate.set()
            await asyncio.wait_for(starting, 10)
            assert await readyz(http) == (200, {"status": "ready", "node": "ready-1"})

            node.stop_soon()  # SIGTERM: still listening and announced, but leaving
            assert await readyz(http) == (503, {"status": "not ready", "node": "ready-1", "reason": "stopping"})
            await node.stop()
            assert (await readyz(http))[1]["reason"] == "stopping"
    finally:
        if starting is not None and not starting.done():
            discovery.gate.set()
            await starting
        await node.stop()
        await server.stop()
