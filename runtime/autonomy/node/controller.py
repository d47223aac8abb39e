"""The node controller: the internal actor through which other nodes of the zone manage this one.

`RemoteNode.start_worker` ships a cloudpickled worker here. Unpickling runs code, so before it does, the
controller checks again where the request came from: from this process (a local mailbox), or over a
link whose peer proved with its certificate that it is another node of this cluster, namespace and
zone. Anything else (a fire-and-forget send, a link without TLS) is refused unread.

Requests are JSON `{"op": ..., ...}` (plus the pickled worker as the envelope's blob); replies are
JSON `{"ok": true, "result": ...}` or `{"ok": false, "code": ..., "error": ...}`.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import cloudpickle

from autonomy.actors import Context, Mailbox
from autonomy.errors import AutonomyError, PeerRejected, error_code

if TYPE_CHECKING:
    from autonomy.node.node import Node

logger = logging.getLogger("autonomy.node")

CONTROLLER_ADDRESS = "_node_controller"


class ShipmentRefused(PeerRejected):
    """A worker that did not come from an authenticated node of this zone."""


class NodeController:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def handle_message(self, context: Context, message: str) -> None:
        try:
            request = json.loads(message)
            op = request.get("op")
            handler = getattr(self, f"_op_{op}", None)
            if handler is None:
                raise ValueError(f"unknown node controller operation {op!r}")
            result = await handler(request, context)
            answer: dict[str, Any] = {"ok": True, "result": result}
        except Exception as error:
            if not isinstance(error, AutonomyError):
                logger.warning("node controller request failed: %s", error)
            answer = {"ok": False, "code": error_code(error), "error": f"{type(error).__name__}: {error}"}
        await context.reply(json.dumps(answer))

    async def _op_ping(self, request: dict[str, Any], context: Context) -> Any:
        return {"node": self.node.name, "pod": self.node.settings.pod}

    async def _op_start_worker(self, request: dict[str, Any], context: Context) -> Any:
        if not context.blob:
            raise ValueError("start_worker needs the pickled worker")
        self._check_shipper(context)
        worker = cloudpickle.loads(context.blob)
        try:
            worker.node = self.node  # as upstream: a shipped worker can reach the node it now lives on
        except AttributeError:
            pass
        await self.node.start_worker(str(request["name"]), worker)
        return None

    def _check_shipper(self, context: Context) -> None:
        """Raise ShipmentRefused unless the message came from this process or an authenticated peer of the
        zone (the identity its link's TLS handshake proved, passed down with the envelope)."""
        target = context._reply_target  # how the message came is where its replies go
        if isinstance(target, Mailbox):
            return  # sent by this process
        origin = getattr(target, "origin", None)
        peer = getattr(target, "peer", None)
        if origin is not None and origin.same_zone(self.node.workload) and origin.node == peer:
            return
        logger.warning("node controller: refused to unpickle a worker from %s: not an authenticated node "
                       "of this zone", repr(peer)[:80] if peer else "a message without a reply address")
        raise ShipmentRefused("start_worker: refused (workers come only from authenticated nodes of this zone)")

    async def _op_stop_worker(self, request: dict[str, Any], context: Context) -> Any:
        await self.node.stop_worker(str(request["name"]))
        return None

    async def _op_list_workers(self, request: dict[str, Any], context: Context) -> Any:
        return await self.node.list_workers()

    async def _op_list_agents(self, request: dict[str, Any], context: Context) -> Any:
        return await self.node.list_agents()
