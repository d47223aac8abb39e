"""The context a worker gets with each message: who to reply to, and how.

A reply goes back the way the message came: straight into a local mailbox when the sender is on this
node, or onto the peer link when it came from another node. The worker cannot tell the difference.
"""

from __future__ import annotations

from typing import Protocol

from autonomy.errors import AutonomyError


class ReplyTarget(Protocol):
    """Where the replies to one message go."""

    async def reply(self, message: str) -> None: ...

    def fail(self, error: AutonomyError) -> None:
        """Report that the message could not be handled (best effort, never raises)."""


class Context:
    """Handed to `handle_message`; `reply` may be awaited any number of times, including zero."""

    __slots__ = ("_reply_target", "address", "blob")

    def __init__(self, address: str, reply_target: ReplyTarget | None, blob: bytes = b"") -> None:
        self.address = address
        self._reply_target = reply_target
        self.blob = blob

    @property
    def expects_reply(self) -> bool:
        return self._reply_target is not None

    async def reply(self, message: str) -> None:
        """Send `message` to whoever sent the message being handled (a no-op for fire-and-forget sends)."""
        if not isinstance(message, str):
            raise TypeError(f"a reply must be a str, not {type(message).__name__}: json.dumps it first")
        if self._reply_target is not None:
            await self._reply_target.reply(message)
