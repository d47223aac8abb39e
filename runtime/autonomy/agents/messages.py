"""Conversation messages: what agents store, stream and return, in the upstream JSON shape.

user/assistant/system: {"role", "content": {"text", "type": "text"}, "phase", "thinking", "tool_calls"?}
tool:                  {"role": "tool", "tool_call_id", "name", "content": {"text", "type"}, "phase"}

They are pydantic models so `reply[-1].content.text` works as in upstream apps, and they convert to the
OpenAI-style chat messages that `Model` speaks.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import pydantic

from autonomy import messages as upstream
from autonomy.messages import UPSTREAM_MESSAGES, to_wire
from autonomy.models.types import ChatMessage


class Phase(StrEnum):
    SYSTEM = "system"
    PLANNING = "planning"
    EXECUTING = "executing"
    WAITING_FOR_INPUT = "waiting_for_input"


class TextContent(pydantic.BaseModel):
    text: str = ""
    type: Literal["text"] = "text"

    def __repr__(self) -> str:  # upstream's, which apps print (`str(reply[0].content)`)
        return repr(upstream.TextContent(self.text))

    __str__ = __repr__


class FunctionCall(pydantic.BaseModel):
    name: str
    arguments: str = "{}"


class ToolCallMessage(pydantic.BaseModel):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


class ConversationMessage(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")

    role: Literal["user", "assistant", "system", "tool"]
    content: TextContent = pydantic.Field(default_factory=TextContent)
    phase: Phase = Phase.EXECUTING
    thinking: bool = False
    tool_calls: list[ToolCallMessage] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    @pydantic.field_validator("content", mode="before")
    @classmethod
    def _text_or_object(cls, value: Any) -> Any:
        if value is None:
            return TextContent()
        return TextContent(text=value) if isinstance(value, str) else value

    @property
    def text(self) -> str:
        return self.content.text

    def to_upstream(self) -> upstream.UpstreamMessage:
        """The message as upstream's class of its role (`AssistantMessage(...)`, ...)."""
        phase = upstream.Phase(self.phase.value)
        if self.role == "user":
            return upstream.UserMessage(self.content.text, phase, self.thinking)
        if self.role == "system":
            return upstream.SystemMessage(self.content.text, phase)
        if self.role == "tool":
            return upstream.ToolCallResponseMessage(self.tool_call_id or "", self.name or "", self.content.text, phase)
        calls = [upstream.ToolCall(c.id, upstream.FunctionToolCall(c.function.name, c.function.arguments), c.type)
                 for c in self.tool_calls or []]
        return upstream.AssistantMessage(self.content.text, phase, self.thinking, calls)

    def __repr__(self) -> str:  # printed as upstream prints its message classes
        return repr(self.to_upstream())

    __str__ = __repr__

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_model(self) -> ChatMessage:
        """The OpenAI-style chat message for a model call."""
        message: ChatMessage = {"role": self.role, "content": self.content.text}
        if self.tool_calls:
            message["tool_calls"] = [call.model_dump(mode="json") for call in self.tool_calls]
        if self.role == "tool":
            message["tool_call_id"] = self.tool_call_id or ""
            if self.name:
                message["name"] = self.name
        return message


#: A message as short-term memory keeps it: a flat dict of strings (plus an assistant turn's tool calls).
#: CPython never tracks a dict whose values are all atomic, so idle histories cost the garbage collector
#: nothing; a nested dict or a model object would be walked by every full collection.
Stored = dict[str, Any]


def to_stored(message: ConversationMessage) -> Stored:
    stored: Stored = {
        "role": message.role,
        "text": message.content.text,
        "phase": message.phase.value,
        "thinking": message.thinking,
    }
    if message.tool_calls:
        stored["tool_calls"] = [call.model_dump(mode="json") for call in message.tool_calls]
    if message.tool_call_id is not None:
        stored["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        stored["name"] = message.name
    return stored


def from_stored(stored: Stored) -> ConversationMessage:
    calls = stored.get("tool_calls")
    return ConversationMessage(
        role=stored["role"],
        content=TextContent(text=stored["text"]),
        phase=Phase(stored["phase"]),
        thinking=stored["thinking"],
        tool_calls=[ToolCallMessage.model_validate(call) for call in calls] if calls else None,
        tool_call_id=stored.get("tool_call_id"),
        name=stored.get("name"),
    )


def chat_message(stored: Stored) -> ChatMessage:
    """`ConversationMessage.to_model()` straight from the stored form: it runs for every message of every
    model call, so no model object is built on the way."""
    message: ChatMessage = {"role": stored["role"], "content": stored["text"]}
    calls = stored.get("tool_calls")
    if calls:
        message["tool_calls"] = calls
    if stored["role"] == "tool":
        message["tool_call_id"] = stored.get("tool_call_id") or ""
        if stored.get("name"):
            message["name"] = stored["name"]
    return message


def user(text: str) -> ConversationMessage:
    return ConversationMessage(role="user", content=TextContent(text=text))


def assistant(
    text: str = "", tool_calls: list[ToolCallMessage] | None = None, phase: Phase = Phase.EXECUTING
) -> ConversationMessage:
    return ConversationMessage(role="assistant", content=TextContent(text=text), tool_calls=tool_calls, phase=phase)


def tool_result(call_id: str, name: str, text: str) -> ConversationMessage:
    return ConversationMessage(role="tool", tool_call_id=call_id, name=name, content=TextContent(text=text))


def parse_messages(value: Any) -> list[ConversationMessage]:
    """What a caller may send: a str, a message dict or object, or a list of them."""
    if isinstance(value, str):
        return [user(value)]
    if isinstance(value, ConversationMessage):
        return [value]
    if isinstance(value, TextContent):
        return [ConversationMessage(role="user", content=value)]
    if isinstance(value, UPSTREAM_MESSAGES):  # UserMessage("..."), SystemMessage("..."), as upstream apps send
        return [ConversationMessage.model_validate(to_wire(value))]
    if isinstance(value, upstream.TextContent):
        return [user(value.text)]
    if isinstance(value, dict):
        if "role" not in value:
            value = {**value, "role": "user"}
        return [ConversationMessage.model_validate(value)]
    if isinstance(value, list) and value:
        return [m for item in value for m in parse_messages(item)]
    raise ValueError("message must be a string, a message object, or a non-empty list of them")
