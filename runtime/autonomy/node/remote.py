"""RemoteNode: another node of the zone, as returned by discovery (`Zone.nodes`).

Messages to it travel on the peer link; management calls go to its node controller.
"""

from __future__ import annotations

import json
import sys
import sysconfig
from pathlib import Path
from types import ModuleType
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


def _installed_roots() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    return tuple(Path(paths[key]).resolve() for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths)


def _is_app_module(module: ModuleType) -> bool:
    """True for a module of the app itself (not installed): the remote node may not be able to import it."""
    if module.__name__ == "__main__" or module.__name__.split(".")[0] == "autonomy":
        return False  # __main__ is pickled by value anyway; the framework is on every node
    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = Path(file).resolve()
    return not any(path.is_relative_to(root) for root in _installed_roots())


def pickle_worker(worker: Any) -> bytes:
    """Cloudpickle a worker so that a node without the app's code can run it.

    Classes from the app's own modules (say `workers.py` beside `main.py`) are shipped by value, as
    upstream's dill does for `__main__`: a runner pod's image need not contain the main pod's code.
    """
    module = sys.modules.get(type(worker).__module__)
    if module is not None and _is_app_module(module):
        cloudpickle.register_pickle_by_value(module)
    return cloudpickle.dumps(worker)  # type: ignore[no-any-return]


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
        await self._control({"op": "start_worker", "name": name}, blob=pickle_worker(worker))

    async def stop_worker(self, name: str) -> None:
        await self._control({"op": "stop_worker", "name": name})

    async def list_workers(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._control({"op": "list_workers"})
        return result

    async def list_agents(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._control({"op": "list_agents"})
        return result
