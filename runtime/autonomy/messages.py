"""Upstream's message classes, as apps build, print and pass them: `SystemMessage`, `UserMessage`,
`AssistantMessage`, `ToolCallResponseMessage`.

They are dataclasses with upstream's fields, field types and enums, so their repr and equality are
upstream's: `UserMessage("hi")` is `UserMessage(content=TextContent(text='hi', type=<MessageContentType.TEXT:
'text'>), phase=<Phase.EXECUTING: 'executing'>, thinking=False, role=<ConversationRole.USER: 'user'>)`.
Apps hand them to `Model.complete_chat` and to `AgentReference.send`; `as_chat_message` and `to_wire`
are the adapters those use (the agents keep their own message model, `autonomy.agents.messages`).

This module imports nothing of the framework, so every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ConversationRole(Enum):
    USER = "user"
    SYSTEM = "system"
    ASSISTANT = "assistant"
    TOOL = "tool"


class Phase(Enum):
    SYSTEM = "system"
    PLANNING = "planning"
    EXECUTING = "executing"
    WAITING_FOR_INPUT = "waiting_for_input"


class MessageContentType(Enum):
    TEXT = "text"
    IMAGE = "image"


@dataclass
class TextContent:
    text: str = ""
    type: MessageContentType = MessageContentType.TEXT

    def __add__(self, other: object) -> TextContent:
        if isinstance(other, TextContent):
            return TextContent(self.text + other.text, self.type)
        if isinstance(other, str):
            return TextContent(self.text + other, self.type)
        raise TypeError(f"cannot add {type(other).__name__} to TextContent: add a str or a TextContent")


@dataclass
class FunctionToolCall:
    name: str
    arguments: str = ""


@dataclass
class ToolCall:
    id: str
    function: FunctionToolCall
    type: str = "function"


def _content(value: Any) -> TextContent:
    """A str, this module's TextContent, or anything with a `text` (the agents' TextContent)."""
    if isinstance(value, TextContent):
        return value
    if isinstance(value, str):
        return TextContent(value)
    text = getattr(value, "text", None)
    if isinstance(text, str):
        return TextContent(text)
    raise TypeError(f"content must be a str or a TextContent, not {type(value).__name__}")


# The classes define their own __init__ (content may be a plain str), so @dataclass keeps it and adds the
# field-order repr and equality.

@dataclass
class UserMessage:
    content: TextContent = field(default_factory=TextContent)
    phase: Phase = Phase.EXECUTING
    thinking: bool = False
    role: ConversationRole = ConversationRole.USER

    def __init__(self, content: str | TextContent = "", phase: Phase = Phase.EXECUTING, thinking: bool = False,
                 role: ConversationRole = ConversationRole.USER) -> None:
        self.content = _content(content)
        self.phase = phase
        self.thinking = thinking
        self.role = role


@dataclass
class SystemMessage:
    content: TextContent = field(default_factory=TextContent)
    phase: Phase = Phase.SYSTEM
    role: ConversationRole = ConversationRole.SYSTEM

    def __init__(self, content: str | TextContent = "", phase: Phase = Phase.SYSTEM,
                 role: ConversationRole = ConversationRole.SYSTEM) -> None:
        self.content = _content(content)
        self.phase = phase
        self.role = role


@dataclass
class AssistantMessage:
    content: TextContent = field(default_factory=TextContent)
    phase: Phase = Phase.EXECUTING
    thinking: bool = False
    tool_calls: list[ToolCall] = field(default_factory=list)
    role: ConversationRole = ConversationRole.ASSISTANT

    def __init__(self, content: str | TextContent = "", phase: Phase = Phase.EXECUTING, thinking: bool = False,
                 tool_calls: list[ToolCall] | None = None,
                 role: ConversationRole = ConversationRole.ASSISTANT) -> None:
        self.content = _content(content)
        self.phase = phase
        self.thinking = thinking
        self.tool_calls = tool_calls if tool_calls is not None else []
        self.role = role


@dataclass
class ToolCallResponseMessage:
    tool_call_id: str
    name: str
    content: TextContent = field(default_factory=TextContent)
    phase: Phase = Phase.EXECUTING
    role: ConversationRole = ConversationRole.TOOL

    def __init__(self, tool_call_id: str, name: str, content: str | TextContent = "",
                 phase: Phase = Phase.EXECUTING, role: ConversationRole = ConversationRole.TOOL) -> None:
        self.tool_call_id = tool_call_id
        self.name = name
        self.content = _content(content)
        self.phase = phase
        self.role = role


UpstreamMessage = UserMessage | SystemMessage | AssistantMessage | ToolCallResponseMessage
UPSTREAM_MESSAGES = (UserMessage, SystemMessage, AssistantMessage, ToolCallResponseMessage)


def to_wire(message: UpstreamMessage) -> dict[str, Any]:
    """The message in the JSON shape agents exchange (and upstream's converter writes)."""
    wire: dict[str, Any] = {
        "role": message.role.value,
        "content": {"text": message.content.text, "type": message.content.type.value},
        "phase": message.phase.value,
    }
    if isinstance(message, UserMessage | AssistantMessage):
        wire["thinking"] = message.thinking
    if isinstance(message, AssistantMessage) and message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "function": {"name": c.function.name, "arguments": c.function.arguments or "{}"},
             "type": c.type}
            for c in message.tool_calls
        ]
    if isinstance(message, ToolCallResponseMessage):
        wire["tool_call_id"] = message.tool_call_id
        wire["name"] = message.name
    return wire


def as_chat_message(message: Any) -> Any:
    """What `Model` sends for one message: OpenAI-style dicts pass as they are; upstream's message classes
    (and anything with `to_model()`, such as the agents' messages) become one."""
    if isinstance(message, UPSTREAM_MESSAGES):
        wire = to_wire(message)
        chat: dict[str, Any] = {"role": wire["role"], "content": wire["content"]["text"]}
        for key in ("tool_calls", "tool_call_id", "name"):
            if key in wire:
                chat[key] = wire[key]
        return chat
    to_model = getattr(message, "to_model", None)
    if callable(to_model):
        return to_model()
    return message
