"""`AgentReference`: how code talks to an agent, on this node or on another one.

Every call is a message to the agent's address through `node.send`, so a reference to an agent on a
remote node (`AgentReference(name, remote_node)`) works the same way as a local one. Streamed parts are
re-sequenced by `part_nb` before they are handed out.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from autonomy.agents.errors import AgentBusy, AgentError, SendMessageTimeoutError
from autonomy.agents.messages import ConversationMessage, parse_messages
from autonomy.errors import DeadlineExceeded
from autonomy.names import random_hex

#: Without a timeout, a call waits as long as an agent may run (600 s) plus a margin, as upstream advises.
DEFAULT_TIMEOUT = 660.0


@dataclass
class Snippet:
    scope: str
    conversation: str
    messages: list[ConversationMessage]


@dataclass
class StreamedConversationSnippet:
    snippet: Snippet
    part_nb: int
    finished: bool

    def to_json(self) -> dict[str, Any]:
        """One NDJSON line of `POST /agents/{name}?stream=true`."""
        return {
            "scope": self.snippet.scope,
            "conversation": self.snippet.conversation,
            "messages": [m.to_json() for m in self.snippet.messages],
            "type": "conversation_snippet",
        }


def _raise_for(frame: dict[str, Any]) -> None:
    if frame.get("type") == "error":
        code = str(frame.get("code", "agent"))
        message = str(frame.get("message", "the agent failed"))
        raise AgentBusy(message) if code == "busy" else AgentError(message, code)


class ReceiveReference:
    """What `send_message` returns: collect the answer later with `receive_message`."""

    def __init__(self, mailbox: Any) -> None:
        self._mailbox = mailbox

    async def receive_message(self, timeout: float | None = 120) -> list[ConversationMessage]:
        try:
            frame = json.loads(await self._mailbox.receive(timeout))
        except DeadlineExceeded as error:
            raise SendMessageTimeoutError(f"no answer within {timeout}s") from error
        finally:
            self._mailbox.close()
        _raise_for(frame)
        return [ConversationMessage.model_validate(m) for m in frame.get("messages", [])]


class AgentReference:
    def __init__(self, name: str, node: Any, exposed_as: str | None = None) -> None:
        self.name = name
        # A RemoteNode carries the local node it talks through; a Node is local.
        local = getattr(node, "local", None)
        self._node = local if local is not None else node
        self.node_name: str = node.name
        self._remote: str | None = node.name if local is not None else None
        self.exposed_as = exposed_as

    def __repr__(self) -> str:
        return f"AgentReference({self.name!r}, node={self.node_name!r})"

    @property
    def node(self) -> Any:
        """The local node calls go through (for an agent on another node too), as upstream's `ref.node`."""
        return self._node

    async def _mailbox(self, request: dict[str, Any], timeout: float | None) -> Any:
        return await self._node.send(self.name, json.dumps(request), node=self._remote, timeout=timeout)

    async def _call(self, request: dict[str, Any], timeout: float | None = 60) -> dict[str, Any]:
        mailbox = await self._mailbox(request, timeout)
        try:
            frame: dict[str, Any] = json.loads(await mailbox.receive(timeout))
        except DeadlineExceeded as error:
            raise SendMessageTimeoutError(f"agent {self.name!r} did not answer within {timeout}s") from error
        finally:
            mailbox.close()
        _raise_for(frame)
        return frame

    @staticmethod
    def _request(message: Any, scope: str, conversation: str, stream: bool) -> dict[str, Any]:
        return {
            "type": "conversation_snippet",
            "scope": scope or "",
            "conversation": conversation or "",
            "messages": [m.to_json() for m in parse_messages(message)],
            "stream": stream,
        }

    async def send(
        self, message: Any, scope: str = "", conversation: str = "", timeout: float | None = None
    ) -> list[ConversationMessage]:
        """The messages the agent produced for this message; the answer is `[-1].content.text`."""
        return [
            ConversationMessage.model_validate(m) for m in await self.send_json(message, scope, conversation, timeout)
        ]

    async def send_json(
        self, message: Any, scope: str = "", conversation: str = "", timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """As `send`, with the messages left as JSON objects (what the HTTP API returns as it is)."""
        frame = await self._call(self._request(message, scope, conversation, False), timeout or DEFAULT_TIMEOUT)
        messages: list[dict[str, Any]] = frame.get("messages", [])
        return messages

    async def send_stream(
        self, message: Any, scope: str = "", conversation: str = "", timeout: float | None = None
    ) -> AsyncIterator[StreamedConversationSnippet]:
        timeout = timeout or DEFAULT_TIMEOUT
        mailbox = await self._mailbox(self._request(message, scope, conversation, True), timeout)
        pending: dict[int, StreamedConversationSnippet] = {}
        expected = 0
        try:
            while True:
                try:
                    frame = json.loads(await mailbox.receive(timeout))
                except DeadlineExceeded as error:
                    raise SendMessageTimeoutError(f"agent {self.name!r} did not finish within {timeout}s") from error
                _raise_for(frame)
                body = frame.get("snippet", {})
                part = StreamedConversationSnippet(
                    Snippet(
                        str(body.get("scope", scope)),
                        str(body.get("conversation", conversation)),
                        [ConversationMessage.model_validate(m) for m in body.get("messages", [])],
                    ),
                    int(frame.get("part_nb", expected)),
                    bool(frame.get("finished")),
                )
                pending[part.part_nb] = part
                while expected in pending:
                    ready = pending.pop(expected)
                    expected += 1
                    yield ready
                    if ready.finished:
                        return
        finally:
            mailbox.close()

    async def send_message(
        self, message: Any, scope: str = "", conversation: str = "", timeout: float | None = None
    ) -> ReceiveReference:
        """Fire now, collect later: the pattern for fanning out to many agents at once."""
        request = self._request(message, scope, conversation, False)
        return ReceiveReference(await self._mailbox(request, timeout or DEFAULT_TIMEOUT))

    async def get_conversation_state(self, scope: str = "", conversation: str = "") -> dict[str, Any]:
        frame = await self._call(
            {"type": "get_conversation_state_request", "scope": scope, "conversation": conversation}
        )
        return {k: v for k, v in frame.items() if k != "type"}

    async def is_paused(self, scope: str = "", conversation: str = "") -> bool:
        return bool((await self.get_conversation_state(scope, conversation))["is_paused"])

    async def get_conversations(self, scope: str | None = None, conversation: str | None = None) -> list[Any]:
        request = {"type": "get_conversations_request", "scope": scope, "conversation": conversation}
        conversations: list[Any] = (await self._call(request))["conversations"]
        return conversations

    async def identifier(self, scope: str = "", conversation: str = "") -> str:
        frame = await self._call({"type": "get_identifier_request", "scope": scope, "conversation": conversation})
        return str(frame["identifier"])

    # -- as a tool of another agent (when started with exposed_as) ---------------------------------------

    async def spec(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.exposed_as or f"Ask the agent {self.name}",
                "parameters": {
                    "type": "object",
                    "properties": {"prompt": {"type": "string", "description": "what to ask the agent"}},
                    "required": ["prompt"],
                },
            },
        }

    async def invoke(self, json_argument: str | None) -> str:
        try:
            arguments = json.loads(json_argument or "{}")
            prompt = arguments.get("prompt") if isinstance(arguments, dict) else None
            if not isinstance(prompt, str) or not prompt:
                raise ValueError("invalid arguments: prompt: a non-empty string is required")
            # Each call is its own conversation: calls from several conversations of the calling agent must
            # not interrupt one another. It is forgotten afterwards so tool calls do not pile up.
            conversation = f"tool-call-{random_hex(8)}"
            try:
                reply = await self.send(prompt, conversation=conversation)
            finally:
                with contextlib.suppress(Exception):
                    await self._call({"type": "forget_conversation_request", "conversation": conversation}, timeout=10)
            return reply[-1].text if reply else ""
        except Exception as error:
            return f"Tool execution failed: {type(error).__name__}: {error}"
