"""Agents: LLM-driven actors with tools and memory, one conversation per (scope, conversation).

The names load on first use (PEP 562): the HTTP routes import `autonomy.agents.errors` on every node,
and that must not pull in the model SDKs and MCP (about 1.6 s) on nodes that never start an agent.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autonomy.agents.agent import Agent
    from autonomy.agents.conversation_response import ConversationResponse
    from autonomy.agents.errors import (
        AgentBusy,
        AgentError,
        AgentStartTimeoutError,
        AgentStopTimeoutError,
        AgentTimeoutError,
        SendMessageTimeoutError,
    )
    from autonomy.agents.memory import Memory
    from autonomy.agents.messages import ConversationMessage, Phase, TextContent
    from autonomy.agents.reference import AgentReference, ReceiveReference, StreamedConversationSnippet
    from autonomy.agents.repl import Repl

_SOURCES: dict[str, str] = {
    "Agent": "autonomy.agents.agent",
    "ConversationResponse": "autonomy.agents.conversation_response",
    "AgentBusy": "autonomy.agents.errors",
    "AgentError": "autonomy.agents.errors",
    "AgentStartTimeoutError": "autonomy.agents.errors",
    "AgentStopTimeoutError": "autonomy.agents.errors",
    "AgentTimeoutError": "autonomy.agents.errors",
    "SendMessageTimeoutError": "autonomy.agents.errors",
    "Memory": "autonomy.agents.memory",
    "ConversationMessage": "autonomy.agents.messages",
    "Phase": "autonomy.agents.messages",
    "TextContent": "autonomy.agents.messages",
    "AgentReference": "autonomy.agents.reference",
    "ReceiveReference": "autonomy.agents.reference",
    "StreamedConversationSnippet": "autonomy.agents.reference",
    "Repl": "autonomy.agents.repl",
}

__all__ = [
    "Agent",
    "AgentBusy",
    "AgentError",
    "AgentReference",
    "AgentStartTimeoutError",
    "AgentStopTimeoutError",
    "AgentTimeoutError",
    "ConversationMessage",
    "ConversationResponse",
    "Memory",
    "Phase",
    "ReceiveReference",
    "Repl",
    "SendMessageTimeoutError",
    "StreamedConversationSnippet",
    "TextContent",
]


if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name stays an error for them

    def __getattr__(name: str) -> Any:
        module = _SOURCES.get(name)
        if module is None:
            raise AttributeError(f"module 'autonomy.agents' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))
