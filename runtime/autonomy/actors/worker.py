"""What a worker is: any object with `async handle_message(context, message)`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from autonomy.actors.context import Context


@runtime_checkable
class Worker(Protocol):
    """A stateful actor. The runtime calls `handle_message` for one message at a time."""

    async def handle_message(self, context: Context, message: str) -> None: ...
