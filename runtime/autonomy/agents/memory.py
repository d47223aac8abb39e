"""Agent memory: short-term per (scope, conversation) in process, long-term in a database.

Short-term memory is what the model sees. It is trimmed by message count and by estimated tokens, always
from the oldest end, and never splits an assistant's tool calls from their results (Claude rejects a
tool_result without its tool_use). Long-term memory keeps every message; a conversation is reloaded from it
the first time it is touched after a restart. Messages are stored under tenant `{agent}` and scope
`{scope}`, so agents never see each other's memory.

Short-term memory holds each message as a flat dict of strings (`messages.Stored`), not as a model
object: a fraction of the size, and invisible to the garbage collector, so ten thousand idle conversations
neither fill the heap nor lengthen every full collection.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from autonomy.agents.messages import ConversationMessage, Stored, chat_message, from_stored, to_stored
from autonomy.agents.store import Store
from autonomy.models.model import estimate_tokens

Key = tuple[str, str]


class Memory:
    def __init__(
        self,
        agent_name: str,
        max_messages: int | None = 1000,
        max_tokens: int | None = 100_000,
        store: Store | None = None,
        reload_messages: int = 1000,
    ) -> None:
        if max_messages is not None and max_messages < 2:
            raise ValueError("max_messages_in_short_term_memory must be at least 2")
        self.agent_name = agent_name
        self.max_messages = max_messages
        self.max_tokens = max_tokens
        self.store = store
        self.reload_messages = reload_messages
        self._short: dict[Key, list[Stored]] = {}
        self._tokens: dict[Key, int] = {}
        self._loaded: set[Key] = set()
        self._load_locks: OrderedDict[Key, asyncio.Lock] = OrderedDict()

    async def _ensure_loaded(self, key: Key) -> None:
        if self.store is None or key in self._loaded:
            return
        lock = self._load_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._loaded:
                return
            rows = await self.store.load(self.agent_name, key[0], key[1], self.reload_messages)
            restored = [to_stored(ConversationMessage.model_validate(row)) for row in rows]
            self._short[key] = restored + self._short.get(key, [])
            self._tokens[key] = sum(_tokens(m) for m in self._short[key])
            self._trim(key)
            self._loaded.add(key)
        self._load_locks.pop(key, None)

    async def add_message(self, scope: str, conversation: str, message: ConversationMessage) -> None:
        await self.add_messages(scope, conversation, [message])

    async def add_messages(self, scope: str, conversation: str, messages: list[ConversationMessage]) -> None:
        key = (scope, conversation)
        await self._ensure_loaded(key)
        stored = [to_stored(m) for m in messages]
        self._short.setdefault(key, []).extend(stored)
        self._tokens[key] = self._tokens.get(key, 0) + sum(_tokens(m) for m in stored)
        self._trim(key)
        if self.store is not None:
            await self.store.append(self.agent_name, scope, conversation, [m.to_json() for m in messages])

    def _trim(self, key: Key) -> None:
        messages = self._short.get(key)
        if not messages:
            return
        drop = 0
        tokens = self._tokens.get(key, 0)

        def over(count: int, tokens: int) -> bool:
            return (self.max_messages is not None and count > self.max_messages) or (
                self.max_tokens is not None and tokens > self.max_tokens and count > 1
            )

        while drop < len(messages) - 1 and over(len(messages) - drop, tokens):
            tokens -= _tokens(messages[drop])
            drop += 1
            # An assistant message with tool calls goes together with the tool results that follow it.
            while drop < len(messages) - 1 and messages[drop]["role"] == "tool":
                tokens -= _tokens(messages[drop])
                drop += 1
        if drop:
            del messages[:drop]
            self._tokens[key] = tokens

    async def get_messages(self, scope: str, conversation: str) -> list[ConversationMessage]:
        """The short-term history the model sees, oldest first."""
        key = (scope, conversation)
        await self._ensure_loaded(key)
        return [from_stored(m) for m in self._short.get(key, ())]

    async def get_stored(self, scope: str, conversation: str) -> list[Stored]:
        """The short-term history as stored (the same objects each time, for identity checks); do not modify."""
        key = (scope, conversation)
        await self._ensure_loaded(key)
        return list(self._short.get(key, ()))

    async def get_all_messages(self, scope: str, conversation: str) -> list[ConversationMessage]:
        """The whole history: from the long-term store when there is one, else the short-term history."""
        if self.store is not None:
            rows = await self.store.load(self.agent_name, scope, conversation, None)
            return [ConversationMessage.model_validate(row) for row in rows]
        return await self.get_messages(scope, conversation)

    async def get_message_count(self, scope: str, conversation: str) -> int:
        key = (scope, conversation)
        await self._ensure_loaded(key)
        return len(self._short.get(key, ()))

    async def conversations(self, scope: str | None = None) -> list[dict[str, Any]]:
        """[{"scope", "conversation", "messages": [...]}] for every known conversation (of one scope)."""
        keys = set(self._short)
        if self.store is not None:
            keys |= set(await self.store.conversations(self.agent_name, scope))
        result = []
        for s, c in sorted(keys):
            if scope is None or s == scope:
                messages = await self.get_all_messages(s, c)
                result.append({"scope": s, "conversation": c, "messages": [m.to_json() for m in messages]})
        return result

    def clear_short_term_memory(self, scope: str, conversation: str) -> None:
        self._short.pop((scope, conversation), None)
        self._tokens.pop((scope, conversation), None)

    def forget(self, scope: str, conversation: str) -> None:
        """Drop a conversation from the process only; with a store it reloads on the next use."""
        self.clear_short_term_memory(scope, conversation)
        self._loaded.discard((scope, conversation))

    async def delete_conversation(self, scope: str, conversation: str) -> None:
        self.clear_short_term_memory(scope, conversation)
        if self.store is not None:
            await self.store.delete(self.agent_name, scope, conversation)

    def get_metrics(self) -> dict[str, int]:
        return {
            "conversations": len(self._short),
            "messages": sum(len(m) for m in self._short.values()),
            "tokens": sum(self._tokens.values()),
        }


def _tokens(message: Stored) -> int:
    return estimate_tokens(chat_message(message))
