"""RemoteNode: another node of the zone, as returned by discovery (`Zone.nodes`).

Messages to it travel on the peer link; management calls go to its node controller.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import cloudpickle

from autonomy.actors import Mailbox
from autonomy.errors import error_from_code
from autonomy.node.controller import CONTROLLER_ADDRESS

if TYPE_CHECKING:
    from autonomy.node.node import Node

#: As upstream: calls to a remote node wait up to ten minutes unless told otherwise.
REMOTE_TIMEOUT = 600.0
CONTROL_TIMEOUT = 60.0


class RemoteNode:
    def __init__(self, local: Node, name: str, pod: str = "") -> None:
        self.local = local
        self.name = name
        self.pod = pod

    def __repr__(self) -> str:
        return f"RemoteNode({self.name!r}, pod={self.pod!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemoteNode) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    async def identifier(self) -> str:
        return self.name

    async def send(self, address: str, message: str, timeout: float | None = None) -> Mailbox:
        return await self.local.send(address, message, node=self.name, timeout=timeout)

    async def send_and_receive(self, address: str, message: str, timeout: float | None = REMOTE_TIMEOUT,
                               policy: Any = None) -> str:
        return await self.local.send_and_receive(address, message, node=self.name, timeout=timeout)

    async def _control(self, request: dict[str, Any], blob: bytes = b"", timeout: float = CONTROL_TIMEOUT) -> Any:
        mailbox = self.local._new_mailbox(timeout)
        try:
            await self.local._send(CONTROLLER_ADDRESS, json.dumps(request), self.name, mailbox, timeout, blob)
            answer = json.loads(await mailbox.receive(timeout))
        finally:
            mailbox.close()
        if not answer.get("ok"):
            raise error_from_code(str(answer.get("code", "remote")),
                                  f"node {self.name!r}: {answer.get('error', 'request failed')}")
        return answer.get("result")

    async def ping(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._control({"op": "ping"})
        return result

    async def start_worker(self, name: str, worker: Any, policy: Any = None, exposed_as: str | None = None) -> None:
        """Ship `worker` (cloudpickled, code included) to this node and start it at `name` there."""
        await self._control({"op": "start_worker", "name": name}, blob=cloudpickle.dumps(worker))

    async def stop_worker(self, name: str) -> None:
        await self._control({"op": "stop_worker", "name": name})

    async def list_workers(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._control({"op": "list_workers"})
        return result

    async def list_agents(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._control({"op": "list_agents"})
        return result
