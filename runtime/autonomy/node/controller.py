"""The node controller: the internal actor through which other nodes of the zone manage this one.

`RemoteNode.start_worker` ships a cloudpickled worker here. Unpickling runs code, so it only ever
arrives over a link whose peer passed the zone handshake (same cluster and zone, zone credentials).
Requests are JSON `{"op": ..., ...}` (plus the pickled worker as the envelope's blob); replies are
JSON `{"ok": true, "result": ...}` or `{"ok": false, "code": ..., "error": ...}`.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import cloudpickle

from autonomy.actors import Context
from autonomy.errors import AutonomyError, error_code

if TYPE_CHECKING:
    from autonomy.node.node import Node

logger = logging.getLogger("autonomy.node")

CONTROLLER_ADDRESS = "_node_controller"


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
        worker = cloudpickle.loads(context.blob)
        try:
            worker.node = self.node  # as upstream: a shipped worker can reach the node it now lives on
        except AttributeError:
            pass
        await self.node.start_worker(str(request["name"]), worker)
        return None

    async def _op_stop_worker(self, request: dict[str, Any], context: Context) -> Any:
        await self.node.stop_worker(str(request["name"]))
        return None

    async def _op_list_workers(self, request: dict[str, Any], context: Context) -> Any:
        return await self.node.list_workers()

    async def _op_list_agents(self, request: dict[str, Any], context: Context) -> Any:
        return await self.node.list_agents()
