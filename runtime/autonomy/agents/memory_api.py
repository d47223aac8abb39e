"""`autonomy.Memory`: upstream's conversation memory as an app uses it directly, on message dicts.

Upstream's agents keep their history in this class; apps that build one themselves (a custom context, a
transcript, a test) give it upstream's message dicts (`{"role", "content": {"text", "type"}, "phase", ...}`)
and get the same dicts back, a `timestamp` added. Short-term memory is per (scope, conversation), trimmed
oldest first by count and by estimated tokens (4 characters a token, as upstream), never splitting an
assistant's tool calls from their results. With `enable_long_term_memory=True` and `initialize_database()`,
every message is also kept in this runtime's store (`AUTONOMY_DATABASE_URL`, else SQLite), under
`tenant_id`.

This runtime's agents use their own, leaner memory (`autonomy.agents.memory`); this class is the API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autonomy.agents.store import Store

logger = logging.getLogger("autonomy.memory")

MAX_MESSAGES_IN_SHORT_TERM_MEMORY_DEFAULT = 100
MAX_TOKENS_IN_SHORT_TERM_MEMORY_DEFAULT = 8000

Key = tuple[str, str]


def _text_size(message: dict[str, Any]) -> int:
    content = message.get("content")
    if isinstance(content, dict):
        return len(str(content.get("text", content)))
    return len(str(content or ""))


def _tokens(messages: list[dict[str, Any]]) -> int:
    return sum(_text_size(m) for m in messages) // 4


class Memory:
    def __init__(self, max_messages_in_short_term_memory: int = MAX_MESSAGES_IN_SHORT_TERM_MEMORY_DEFAULT,
                 max_tokens_in_short_term_memory: int | None = MAX_TOKENS_IN_SHORT_TERM_MEMORY_DEFAULT,
                 model: Any = None, enable_long_term_memory: bool = False) -> None:
        if max_messages_in_short_term_memory < 1:
            raise ValueError("max_messages_in_short_term_memory must be at least 1")
        if max_tokens_in_short_term_memory is not None and max_tokens_in_short_term_memory < 100:
            raise ValueError("max_tokens_in_short_term_memory must be at least 100 (or None for no token limit)")
        self.max_messages_in_short_term_memory = max_messages_in_short_term_memory
        self.max_tokens_in_short_term_memory = max_tokens_in_short_term_memory
        self.model = model  # accepted as upstream's; tokens are estimated from the text
        self.enable_long_term_memory = enable_long_term_memory
        #: Whose messages these are in the long-term store (upstream's agents set their name here).
        self.tenant_id: str | None = None
        self.short_term_memory: dict[Key, list[dict[str, Any]]] = {}
        self.instructions: list[dict[str, Any]] = []
        self.lock = asyncio.Lock()
        self.metrics = {"messages_added": 0, "messages_trimmed": 0, "db_writes": 0, "db_reads": 0,
                        "active_conversations": 0, "batch_operations": 0}
        self._store: Store | None = None

    def __repr__(self) -> str:
        return (f"Memory(max_messages_in_short_term_memory={self.max_messages_in_short_term_memory}, "
                f"max_tokens_in_short_term_memory={self.max_tokens_in_short_term_memory}, "
                f"enable_long_term_memory={self.enable_long_term_memory})")

    async def initialize_database(self, max_retries: int = 3) -> None:
        """Open the long-term store (when enabled) and load each conversation's recent messages from it lazily."""
        if not self.enable_long_term_memory:
            return
        from autonomy.agents.store import default_store

        self._store = default_store()

    @property
    def _tenant(self) -> str:
        return self.tenant_id or "default"

    def set_instructions(self, instructions: dict[str, Any]) -> None:
        """The system message put before every conversation's messages by `get_messages`."""
        self.instructions = [instructions]

    async def add_message(self, scope: str, conversation: str, message: dict[str, Any]) -> None:
        await self._add(scope, conversation, [message])

    async def add_messages(self, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        await self._add(scope, conversation, messages)
        self.metrics["batch_operations"] += 1

    async def _add(self, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            if not isinstance(message, dict) or "role" not in message:
                raise TypeError(f"a memory message is a dict with a 'role' (upstream's shape), not {message!r}")
            message.setdefault("timestamp", time.time())
        async with self.lock:
            self.short_term_memory.setdefault((scope, conversation), []).extend(messages)
            self.metrics["messages_added"] += len(messages)
            if self._store is not None:
                try:
                    await self._store.append(self._tenant, scope, conversation, messages)
                    self.metrics["db_writes"] += len(messages)
                except Exception as error:  # as upstream: memory keeps the message even if the store fails
                    logger.error("failed to keep messages of %s/%s in the store: %s", scope, conversation, error)
            self._trim(scope, conversation)

    def _trim(self, scope: str, conversation: str) -> None:
        """Oldest first, an assistant's tool calls and their results together, never the last message."""
        messages = self.short_term_memory[(scope, conversation)]
        limit_tokens = self.max_tokens_in_short_term_memory

        def over() -> bool:
            too_many = len(messages) > self.max_messages_in_short_term_memory
            return too_many or (limit_tokens is not None and _tokens(messages) > limit_tokens)

        while len(messages) > 1 and over():
            drop = 1
            while drop < len(messages) - 1 and messages[drop].get("role") == "tool":
                drop += 1  # a tool result without its call is refused by Claude
            del messages[:drop]
            self.metrics["messages_trimmed"] += drop

    async def get_messages(self, scope: str, conversation: str) -> list[dict[str, Any]]:
        """The instructions, then the conversation's short-term messages: what a model is given."""
        async with self.lock:
            return self.instructions + list(self.short_term_memory.get((scope, conversation), []))

    async def get_messages_only(self, scope: str, conversation: str) -> list[dict[str, Any]]:
        async with self.lock:
            return list(self.short_term_memory.get((scope, conversation), []))

    async def get_all_messages(self, scope: str, conversation: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Every message, from the long-term store when there is one (the first `limit`), else short-term."""
        if self._store is None:
            return await self.get_messages_only(scope, conversation)
        rows = await self._store.load(self._tenant, scope, conversation, None)
        self.metrics["db_reads"] += len(rows)
        return rows[:limit] if limit else rows

    async def get_message_count(self, scope: str, conversation: str) -> int:
        if self._store is None:
            return len(await self.get_messages_only(scope, conversation))
        return len(await self._store.load(self._tenant, scope, conversation, None))

    async def clear_short_term_memory(self, scope: str, conversation: str) -> None:
        """Forget the conversation here; the long-term store keeps it."""
        async with self.lock:
            self.short_term_memory.pop((scope, conversation), None)

    async def delete_conversation(self, scope: str, conversation: str) -> None:
        async with self.lock:
            self.short_term_memory.pop((scope, conversation), None)
            if self._store is not None:
                await self._store.delete(self._tenant, scope, conversation)

    async def get_metrics(self) -> dict[str, Any]:
        async with self.lock:
            total = sum(len(m) for m in self.short_term_memory.values())
            count = len(self.short_term_memory)
            return {**self.metrics, "active_conversations": count, "total_active_messages": total,
                    "avg_messages_per_conversation": total / count if count else 0}

    async def health_check(self) -> bool:
        """True when the long-term store answers (always, without one)."""
        if self._store is None:
            return True
        try:
            await self._store.load(self._tenant, "", "__health_check__", 1)
            return True
        except Exception as error:
            logger.error("memory store health check failed: %s", error)
            return False
