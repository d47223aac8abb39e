"""The provider-neutral shapes a model call speaks: OpenAI-style chat messages in, deltas and a final
response out.

Agents talk to every provider through these, so switching from an OpenAI-compatible endpoint to
Anthropic changes configuration, not agent code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: An OpenAI-style chat message: {"role", "content", "tool_calls"?, "tool_call_id"?, "name"?}.
ChatMessage = dict[str, Any]
#: An OpenAI-style function tool spec:
#: {"type": "function", "function": {"name", "description", "parameters"}}.
ToolSpec = dict[str, Any]


@dataclass
class ToolCall:
    """One complete tool call the model asked for; `arguments` is the raw JSON text the model wrote."""

    id: str
    name: str
    arguments: str

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class ToolCallDelta:
    """A fragment of a streamed tool call; fragments with the same `index` belong together."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class ModelDelta:
    """One streamed piece of a model answer."""

    text: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None


@dataclass
class ModelResponse:
    """A whole model answer: text and/or tool calls."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None


class ResponseAccumulator:
    """Folds streamed deltas into a `ModelResponse`, joining tool-call fragments by index."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: dict[int, ToolCallDelta] = {}
        self.finish_reason: str | None = None

    def add(self, delta: ModelDelta) -> None:
        if delta.text:
            self._text.append(delta.text)
        for part in delta.tool_calls:
            call = self._calls.setdefault(part.index, ToolCallDelta(index=part.index))
            call.id = call.id or part.id
            call.name = call.name or part.name
            call.arguments += part.arguments
        if delta.finish_reason:
            self.finish_reason = delta.finish_reason

    def response(self) -> ModelResponse:
        calls = [
            # Some servers omit ids; the agent needs one to pair the call with its result.
            ToolCall(id=c.id or f"call_{i}_{c.name}", name=c.name or "", arguments=c.arguments or "{}")
            for i, c in sorted(self._calls.items())
        ]
        return ModelResponse(text="".join(self._text), tool_calls=calls, finish_reason=self.finish_reason)
