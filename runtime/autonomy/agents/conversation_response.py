"""`ConversationResponse`: upstream's helper that numbers the snippets of one answer.

A streamed answer is a sequence of `StreamedConversationSnippet`s; each call of `make_snippet` wraps one
message in the next one (an unstreamed answer gets a plain snippet), and `make_finished_snippet` ends
the stream with an empty, finished part. Parts are numbered as this runtime's agents number them on the
wire (from 0), so `AgentReference.send_stream` re-sequences them; `counter` is how many were made.
"""

from __future__ import annotations

import asyncio
from typing import Any

from autonomy.agents.messages import ConversationMessage, parse_messages
from autonomy.agents.reference import Snippet, StreamedConversationSnippet


class ConversationResponse:
    def __init__(self, scope: str, conversation: str, stream: bool = False) -> None:
        self.scope = scope
        self.conversation = conversation
        self.stream = stream
        self.counter = 0
        self._counter_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return (f"ConversationResponse(scope={self.scope!r}, conversation={self.conversation!r}, "
                f"stream={self.stream!r}, counter={self.counter!r})")

    async def _next_part(self) -> int:
        async with self._counter_lock:
            self.counter += 1
            return self.counter - 1

    async def make_snippet(self, message: Any, finished: bool = False) -> StreamedConversationSnippet | Snippet:
        """One message (this runtime's, or upstream's `AssistantMessage(...)` and friends) as the next part."""
        converted: ConversationMessage = (
            message if isinstance(message, ConversationMessage) else _one_message(message)
        )
        snippet = Snippet(self.scope, self.conversation, [converted])
        if not self.stream:
            return snippet
        return StreamedConversationSnippet(snippet, await self._next_part(), finished)

    async def make_finished_snippet(self) -> StreamedConversationSnippet:
        """The empty last part that tells the receiver the stream is over."""
        return StreamedConversationSnippet(Snippet(self.scope, self.conversation, []), await self._next_part(), True)


def _one_message(message: Any) -> ConversationMessage:
    messages = parse_messages(message)
    if len(messages) != 1:
        raise ValueError(f"make_snippet takes one message, got {len(messages)}: call it once per message")
    return messages[0]
