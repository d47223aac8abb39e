"""The agent's actor on a node: it decodes requests and hands them to the `AgentCore`, which routes each
to the conversation of its (scope, conversation) and returns at once.

The worker itself never waits for a model: it handles one message at a time, as every actor does, but
each takes microseconds, so thousands of conversations proceed in parallel behind one address. It can be
shipped to another node (`RemoteNode.start_worker`): only its settings travel, and the core (memory,
conversations) is built where it runs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from autonomy.actors import Context
from autonomy.agents.conversation import Request
from autonomy.agents.core import AgentCore
from autonomy.agents.memory import Memory
from autonomy.agents.messages import parse_messages
from autonomy.agents.settings import AgentSettings
from autonomy.agents.store import default_store
from autonomy.models.clients import close_clients

logger = logging.getLogger("autonomy.agent")


def build_core(settings: AgentSettings) -> AgentCore:
    store = default_store() if settings.enable_long_term_memory else None
    memory = Memory(
        settings.name,
        max_messages=settings.max_messages_in_short_term_memory,
        max_tokens=settings.max_tokens_in_short_term_memory,
        store=store,
    )
    return AgentCore(settings, memory)


class AgentWorker:
    def __init__(self, settings: AgentSettings, core: AgentCore | None = None, node: Any = None) -> None:
        self.settings = settings
        self.core = core
        self.node = node  # set by the node controller when shipped
        if node is not None:
            node.add_stop_callback(close_clients)  # model connection pools close with the node, not at exit

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "core": None, "node": None}

    def ensure_core(self) -> AgentCore:
        if self.core is None:
            self.core = build_core(self.settings)
            if self.node is not None:
                self.node.agents[self.settings.name] = self
                self.node.add_stop_callback(close_clients)
        return self.core

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.settings.name,
            "is_remote": False,
            "description": self.settings.exposed_as,
            "workers": self.core.worker_keys() if self.core is not None else [],
        }

    async def handle_message(self, context: Context, message: str) -> None:
        core = self.ensure_core()

        async def reply(frame: dict[str, Any]) -> None:
            await context.reply(json.dumps(frame))

        try:
            request = json.loads(message)
            if not isinstance(request, dict):
                raise ValueError("an agent request is a JSON object with a 'type'")
            kind = request.get("type")
            scope = str(request.get("scope") or "")
            conversation = str(request.get("conversation") or "")
            if kind == "conversation_snippet":
                messages = parse_messages(request.get("messages") or request.get("message"))
                accepted = core.submit(
                    scope, conversation, Request(messages, reply, stream=bool(request.get("stream")))
                )
                if not accepted:
                    await reply(
                        {
                            "type": "error",
                            "code": "busy",
                            "message": f"conversation {conversation!r} of agent {core.name!r} has "
                            f"{core.settings.max_queued_per_conversation} requests waiting: retry later",
                        }
                    )
            elif kind == "get_conversation_state_request":
                state = await core.conversation_state(scope, conversation)
                await reply({"type": "get_conversation_state_response", **state})
            elif kind == "get_conversations_request":
                found = await core.memory.conversations(request.get("scope"))
                if request.get("conversation") is not None:
                    found = [c for c in found if c["conversation"] == request["conversation"]]
                await reply({"type": "get_conversations_response", "conversations": found})
            elif kind == "get_identifier_request":
                await reply({"type": "get_identifier_response", "identifier": core.name.replace("-", "_").lower()})
            elif kind == "forget_conversation_request":
                await core.forget(scope, conversation)
                await reply({"type": "forget_conversation_response"})
            elif kind == "stop_request":
                await core.stop()
                if self.node is not None:
                    self.node.agents.pop(core.name, None)
                await reply({"type": "stop_response"})
            else:
                raise ValueError(f"unknown agent request type {kind!r}")
        except Exception as error:
            logger.warning("agent %s: bad request: %s", self.settings.name, error)
            await reply({"type": "error", "code": "bad_request", "message": f"{type(error).__name__}: {error}"})
