"""The node-independent heart of an agent: settings, memory, tools, and its conversations.

`AgentCore.submit` routes a request to the conversation of its (scope, conversation) and returns at once,
so one agent serves any number of conversations in parallel while each stays in order. The node-facing
worker (`autonomy.agents.worker`) only decodes messages and calls this.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any

from autonomy.agents.conversation import ASK_USER_TOOL, Conversation, Request
from autonomy.agents.instructions import framework_instructions
from autonomy.agents.memory import Memory
from autonomy.agents.settings import AgentSettings
from autonomy.tools.base import ToolFactory
from autonomy.tools.function import Tool
from autonomy.tools.time_tools import time_tools

logger = logging.getLogger("autonomy.agent")


@dataclass(frozen=True)
class Toolset:
    """The tools of a conversation, their specs for the model, and the system prompt that goes with them."""

    by_name: dict[str, Any]
    specs: list[dict[str, Any]]
    system: str


def ask_user_for_input(question: str) -> str:
    """Ask the user a question and wait for the answer (the conversation pauses until they reply).

    Args:
        question: the question for the user
    """
    return question  # never run: the conversation intercepts this call and pauses


@functools.cache
def builtin_tools(ask_user: bool) -> tuple[Any, ...]:
    """The tools every agent has, built once per process: they hold no state, and building a tool (its
    argument model) cost a third of the CPU of an agent started, asked once and stopped."""
    tools: list[Any] = [*time_tools()]
    if ask_user:
        tools.append(Tool(ask_user_for_input, name=ASK_USER_TOOL))
    return tuple(tools)


class AgentCore:
    def __init__(self, settings: AgentSettings, memory: Memory) -> None:
        settings.check()
        self.settings = settings
        self.memory = memory
        self.conversations: dict[tuple[str, str], Conversation] = {}
        # Shared tools are built once per agent; factories make per-conversation tools.
        self._shared: list[Any] = list(builtin_tools(bool(settings.enable_ask_for_user_input)))
        self._extra_tools: list[Any] = []  # added by the agent layer (subagent tools)
        self._shared_toolset: Toolset | None = None  # when no factory is involved, all conversations share one

    @property
    def name(self) -> str:
        return self.settings.name

    def add_tools(self, tools: list[Any]) -> None:
        self._extra_tools.extend(tools)

    async def tools_for(self, scope: str, conversation: str) -> list[Any]:
        tools: list[Any] = []
        for item in [*self.settings.tools, *self._extra_tools]:
            if isinstance(item, ToolFactory) and not hasattr(item, "invoke"):
                made = item.create_tools(scope, conversation, self.name)
                tools.extend(await made if asyncio.iscoroutine(made) else made)
            else:
                tools.append(item)
        tools.extend(self._shared)
        return tools

    def _has_factories(self) -> bool:
        return any(
            isinstance(item, ToolFactory) and not hasattr(item, "invoke")
            for item in [*self.settings.tools, *self._extra_tools]
        )

    async def toolset(self, scope: str, conversation: str) -> Toolset:
        if self._shared_toolset is not None:
            return self._shared_toolset
        by_name: dict[str, Any] = {}
        specs = []
        complete = True
        for tool in await self.tools_for(scope, conversation):
            try:
                spec = await tool.spec()
            except Exception as error:  # an unreachable MCP server must not take the agent down
                logger.warning("agent %s: tool %r unavailable: %s", self.name, getattr(tool, "name", tool), error)
                complete = False
                continue
            by_name[spec["function"]["name"]] = tool
            specs.append(spec)
        extra = framework_instructions(by_name)
        toolset = Toolset(by_name, specs, self.settings.instructions + (f"\n\n{extra}" if extra else ""))
        if complete and not self._has_factories():
            self._shared_toolset = toolset  # an unavailable tool is retried by the next conversation
        return toolset

    def conversation(self, scope: str, conversation: str) -> Conversation:
        key = (scope, conversation)
        state = self.conversations.pop(key, None)
        if state is None:
            state = Conversation(self, scope, conversation)
            self._evict_idle()
        self.conversations[key] = state  # most recently used last: eviction starts from the front
        return state

    def _evict_idle(self) -> None:
        """With a long-term store, idle conversations over the cap leave the process: their messages are
        in the store and reload on the next request. Without one, nothing is evicted (it would be lost)."""
        if self.memory.store is None:
            return
        excess = len(self.conversations) - self.settings.max_idle_conversations_in_process + 1
        if excess <= 0:
            return
        for key, state in list(self.conversations.items()):
            if excess <= 0:
                break
            if state.is_active or state.queue or state.is_paused or state.summarizing:
                continue
            del self.conversations[key]
            self.memory.forget(*key)
            excess -= 1

    def submit(self, scope: str, conversation: str, request: Request) -> bool:
        """Queue a request; False when that conversation already has too many requests waiting."""
        return self.conversation(scope, conversation).submit(request)

    async def conversation_state(self, scope: str, conversation: str) -> dict[str, Any]:
        state = self.conversations.get((scope, conversation))
        if state is not None:
            return await state.describe()
        count = await self.memory.get_message_count(scope, conversation)  # asking must not create it
        return {
            "is_paused": False,
            "phase": "ready",
            "message_count": count,
            "scope": scope,
            "conversation": conversation,
        }

    async def forget(self, scope: str, conversation: str) -> None:
        """Drop a finished conversation from this process (its long-term copy, if any, stays)."""
        state = self.conversations.get((scope, conversation))
        if state is not None and not state.is_active and not state.queue:
            del self.conversations[(scope, conversation)]
            self.memory.clear_short_term_memory(scope, conversation)

    def worker_keys(self) -> list[str]:
        return [f"{self.name}/{s}/{c}" for s, c in self.conversations]

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.conversations.values()))
        self.conversations.clear()
