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

__version__ = "0.1.0"

__all__ = [
    "AddressNotFound",
    "AutonomyError",
    "DeadlineExceeded",
    "DeliveryError",
    "MailboxFull",
    "MessageTooLarge",
    "NodeNotFound",
    "PeerGone",
    "PeerRejected",
    "RemoteError",
    "SpecError",
    "WorkerError",
]
