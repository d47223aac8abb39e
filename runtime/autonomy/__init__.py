"""Autonomy: an actor runtime for apps of agents.

The public face of the framework: every name an app may import from `autonomy` is re-exported here and
listed in `__all__` (pinned by tests/unit/test_public_api.py). Everything else is internal.
"""

from autonomy.errors import (
    AddressNotFound,
    AutonomyError,
    DeadlineExceeded,
    DeliveryError,
    MailboxFull,
    MessageTooLarge,
    NodeNotFound,
    PeerGone,
    PeerRejected,
    RemoteError,
    SpecError,
    WorkerError,
)
from autonomy.http import HttpServer, NodeDep, WebSocketNodeDep
from autonomy.node import Node, NodeSettings, RemoteNode, Zone

__version__ = "0.1.0"

__all__ = [
    "AddressNotFound",
    "AutonomyError",
    "DeadlineExceeded",
    "DeliveryError",
    "HttpServer",
    "MailboxFull",
    "MessageTooLarge",
    "Node",
    "NodeDep",
    "NodeNotFound",
    "NodeSettings",
    "PeerGone",
    "PeerRejected",
    "RemoteError",
    "RemoteNode",
    "SpecError",
    "WebSocketNodeDep",
    "WorkerError",
    "Zone",
]
