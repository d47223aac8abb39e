"""Zone: the nodes of this app, as discovery sees them right now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autonomy.discovery.base import matches_filter
from autonomy.node.remote import RemoteNode

if TYPE_CHECKING:
    from autonomy.node.node import Node


class Zone:
    @staticmethod
    async def nodes(node: Node, filter: str | None = None) -> list[RemoteNode]:
        """Every node of the zone whose seed pod name contains `filter` (all nodes when None)."""
        infos = await node._zone_nodes()
        return [RemoteNode(node, info.name, info.pod) for info in infos if matches_filter(info, filter)]

    @staticmethod
    async def node(node: Node, name: str) -> RemoteNode | None:
        """The node called `name`; failing that, a node of the seed pod `name` (or `name-pod`)."""
        infos = await node._zone_nodes()
        for info in infos:
            if info.name == name:
                return RemoteNode(node, info.name, info.pod)
        for info in infos:
            if info.pod in (name, f"{name}-pod"):
                return RemoteNode(node, info.name, info.pod)
        return None
