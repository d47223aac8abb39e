"""The node layer: the Node and its view of the zone (RemoteNode, Zone)."""

from autonomy.node.node import Node, set_default_http_server
from autonomy.node.remote import RemoteNode
from autonomy.node.settings import NodeSettings
from autonomy.node.zone import Zone

__all__ = ["Node", "NodeSettings", "RemoteNode", "Zone", "set_default_http_server"]
