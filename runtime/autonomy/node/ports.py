"""The small interfaces the node wires together (declared here, implemented in lower and higher layers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from autonomy.discovery.base import NodeInfo

if TYPE_CHECKING:
    from autonomy.node.node import Node


class Discovery(Protocol):
    async def start(self, me: NodeInfo) -> None: ...
    async def stop(self) -> None: ...
    async def nodes(self) -> list[NodeInfo]: ...
    async def resolve(self, name: str) -> NodeInfo | None: ...


class NodeHttpServer(Protocol):
    """What `Node.start(http_server=...)` needs of an HTTP server (autonomy.http.HttpServer is one)."""

    async def start(self, node: Node) -> None: ...
    async def stop(self) -> None: ...


class StandaloneDiscovery:
    """AUTONOMY_DISCOVERY=none: a zone of one."""

    def __init__(self) -> None:
        self._me: NodeInfo | None = None

    async def start(self, me: NodeInfo) -> None:
        self._me = me

    async def stop(self) -> None:
        self._me = None

    async def nodes(self) -> list[NodeInfo]:
        return [self._me] if self._me else []

    async def resolve(self, name: str) -> NodeInfo | None:
        return self._me if self._me and self._me.name == name else None
