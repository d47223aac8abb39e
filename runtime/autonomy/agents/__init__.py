"""Agents: LLM-driven actors with tools and memory, one conversation per (scope, conversation)."""

from autonomy.agents.agent import Agent
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

__all__ = [
    "Agent",
    "AgentBusy",
    "AgentError",
    "AgentReference",
    "AgentStartTimeoutError",
    "AgentStopTimeoutError",
    "AgentTimeoutError",
    "ConversationMessage",
    "Memory",
    "Phase",
    "ReceiveReference",
    "SendMessageTimeoutError",
    "StreamedConversationSnippet",
    "TextContent",
]
