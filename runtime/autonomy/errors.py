"""The one tree of errors the framework raises.

Callers catch by meaning, not by where an error came from: the transport maps gRPC failures onto
these at its boundary, so app code never sees a `grpc` exception.

    AutonomyError
    ├── DeliveryError                 a message did not reach its actor or its answer did not come back
    │   ├── AddressNotFound           no actor at that address (on that node)
    │   ├── NodeNotFound              no node of that name in the zone
    │   ├── PeerGone                  the connection to the remote node dropped while waiting
    │   ├── DeadlineExceeded          no answer within the request's deadline (also an asyncio.TimeoutError)
    │   ├── MailboxFull               the actor's bounded mailbox refused the message (overflow policy "reject")
    │   ├── MessageTooLarge           the message is over the configured size limit
    │   └── RemoteError               the remote actor or node answered with an error
    ├── WorkerError                   starting or stopping an actor failed (name taken, bad name, ...)
    ├── PeerRejected                  a remote node refused our handshake (other zone, bad hello)
    └── SpecError                     a zone specification cannot be realized (carried into status)
"""

from __future__ import annotations

import asyncio

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


class AutonomyError(Exception):
    """Base of every error the framework raises on purpose."""


class DeliveryError(AutonomyError):
    """A message was not delivered, or its reply never arrived."""

    #: A short machine-readable code; it is what travels on the wire between nodes.
    code = "delivery"


class AddressNotFound(DeliveryError):
    code = "not_found"


class NodeNotFound(DeliveryError):
    code = "node_not_found"


class PeerGone(DeliveryError):
    code = "peer_gone"


class DeadlineExceeded(DeliveryError, asyncio.TimeoutError):
    code = "deadline"


class MailboxFull(DeliveryError):
    code = "mailbox_full"


class MessageTooLarge(DeliveryError):
    code = "too_large"


class RemoteError(DeliveryError):
    code = "remote"


class WorkerError(AutonomyError):
    code = "worker"


class PeerRejected(AutonomyError):
    code = "rejected"


class SpecError(AutonomyError):
    """A specification that passed the schema but cannot be realized; `reason` is a CamelCase word."""

    def __init__(self, message: str, reason: str = "InvalidSpec") -> None:
        super().__init__(message)
        self.reason = reason


_BY_CODE: dict[str, type[AutonomyError]] = {
    cls.code: cls  # type: ignore[attr-defined]
    for cls in (
        DeliveryError,
        AddressNotFound,
        NodeNotFound,
        PeerGone,
        DeadlineExceeded,
        MailboxFull,
        MessageTooLarge,
        RemoteError,
        WorkerError,
        PeerRejected,
    )
}


def error_code(error: BaseException) -> str:
    """The wire code for an exception; anything that is not ours travels as `remote`."""
    code = getattr(error, "code", None)
    return code if isinstance(code, str) and code in _BY_CODE else RemoteError.code


def error_from_code(code: str, message: str) -> AutonomyError:
    """Rebuild an error that crossed the wire, falling back to `RemoteError` for unknown codes."""
    return _BY_CODE.get(code, RemoteError)(message)
