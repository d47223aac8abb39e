"""`Agent`: start and stop agents on a node, as upstream apps do.

    agent = await Agent.start(node=node, name="henry", instructions="...", model=Model("..."), tools=[Tool(f)])
    reply = await agent.send("hello", conversation="c1")

An agent is one actor at its name (`AgentWorker`) in front of one conversation per (scope, conversation).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from autonomy.agents.errors import AgentStartTimeoutError, AgentStopTimeoutError
from autonomy.agents.reference import AgentReference
from autonomy.agents.settings import AgentSettings
from autonomy.agents.subagents import SubagentTools, check_subagents
from autonomy.agents.summary import SummaryConfig
from autonomy.agents.worker import AgentWorker, build_core
from autonomy.models.model import DEFAULT_MODEL, Model
from autonomy.names import random_hex
from autonomy.tools.filesystem import FilesystemTools

logger = logging.getLogger("autonomy.agent")

#: An agent's actor handles each message in microseconds; a deep mailbox absorbs bursts of requests.
AGENT_MAILBOX_SIZE = 100_000


class Agent:
    @staticmethod
    async def start(
        node: Any,
        instructions: str,
        name: str | None = None,
        model: Model | None = None,
        tools: list[Any] | None = None,
        max_iterations: int = 1000,
        max_execution_time: float = 600.0,
        max_messages_in_short_term_memory: int | None = 1000,
        max_tokens_in_short_term_memory: int | None = 100_000,
        enable_long_term_memory: bool = False,
        enable_ask_for_user_input: bool = False,
        enable_filesystem: bool = False,
        filesystem_visibility: str = "conversation",
        subagents: dict[str, Any] | None = None,
        subagent_runner_filter: str | None = None,
        exposed_as: str | None = None,
        context_summary: bool | dict[str, Any] | None = None,
        timeout: float | None = None,
        **unsupported: Any,
    ) -> AgentReference:
        """Start an agent on `node` and return a reference to it (see the reference's Agent API)."""
        for key in unsupported:
            if key in ("voice", "context_template"):
                raise NotImplementedError(f"Agent.start({key}=...) is not supported by this runtime yet")
            raise TypeError(f"Agent.start() got an unexpected argument {key!r}")
        if getattr(node, "local", None) is not None:
            raise TypeError("Agent.start(node=...) needs the local Node; start agents elsewhere with subagents")
        name = name or random_hex()
        tool_list = list(tools or [])
        if enable_filesystem:
            tool_list.insert(0, FilesystemTools(visibility=filesystem_visibility))
        if context_summary is not None and not isinstance(context_summary, bool | dict):
            raise TypeError("context_summary must be True or a dict {floor, ceiling, size, model, instructions}")
        if context_summary:
            # As upstream: with summaries, short-term memory keeps twice the ceiling and no token cap.
            ceiling = context_summary.get("ceiling", 20) if isinstance(context_summary, dict) else 20
            if max_messages_in_short_term_memory == 1000:
                max_messages_in_short_term_memory = 2 * int(ceiling)
            max_tokens_in_short_term_memory = None
        settings = AgentSettings(
            name=name,
            instructions=instructions,
            model=model if model is not None else Model(DEFAULT_MODEL),
            tools=tool_list,
            max_iterations=max_iterations,
            max_execution_time=max_execution_time,
            max_messages_in_short_term_memory=max_messages_in_short_term_memory,
            max_tokens_in_short_term_memory=max_tokens_in_short_term_memory,
            enable_long_term_memory=enable_long_term_memory,
            enable_ask_for_user_input=enable_ask_for_user_input,
            context_summary=({} if context_summary is True else context_summary or None),
            exposed_as=exposed_as,
        )
        settings.check()
        if settings.context_summary is not None:
            SummaryConfig.from_option(settings.context_summary)  # bad options fail here, not mid-conversation
        if subagents:
            check_subagents(subagents)
            settings.tools.append(SubagentTools(name, subagents, subagent_runner_filter, node, settings.model))
        if name in node.agents:
            raise ValueError(f"an agent named {name!r} already runs on node {node.name!r}: Agent.stop it first")

        async def start() -> None:
            worker = AgentWorker(settings, build_core(settings), node)
            await node.start_worker(name, worker, mailbox_size=AGENT_MAILBOX_SIZE)
            node.agents[name] = worker

        try:
            await asyncio.wait_for(start(), timeout)
        except TimeoutError as error:
            raise AgentStartTimeoutError(f"agent {name!r} did not start within {timeout}s") from error
        logger.info("agent %s started on %s", name, node.name)
        return AgentReference(name, node, exposed_as)

    @staticmethod
    async def stop(node: Any, name: str, timeout: float | None = None, raise_on_timeout: bool = False) -> None:
        """Stop the agent `name`: its conversations are cancelled and its address freed."""
        worker = node.agents.get(name)

        async def stop() -> None:
            await node.stop_worker(name)
            node.agents.pop(name, None)
            if worker is not None and worker.core is not None:
                await worker.core.stop()

        try:
            await asyncio.wait_for(stop(), timeout)
        except TimeoutError as error:
            if raise_on_timeout:
                raise AgentStopTimeoutError(f"agent {name!r} did not stop within {timeout}s") from error
            logger.warning("agent %s did not stop within %ss", name, timeout)

    @staticmethod
    async def start_many(
        node: Any,
        instructions: str,
        number_of_agents: int,
        model: Model | None = None,
        tools: list[Any] | None = None,
        **options: Any,
    ) -> list[AgentReference]:
        """Start `number_of_agents` identical agents with random names."""
        if not isinstance(number_of_agents, int) or number_of_agents < 1:
            raise ValueError(f"number_of_agents must be a positive integer, not {number_of_agents!r}")
        for key in ("name", "subagents", "exposed_as", "voice"):
            if key in options:
                raise TypeError(f"Agent.start_many does not take {key}=")
        model = model if model is not None else Model(DEFAULT_MODEL)
        return [
            await Agent.start(node, instructions, model=model, tools=tools, **options) for _ in range(number_of_agents)
        ]

    @staticmethod
    async def start_from_config(node: Any, config: dict[str, Any]) -> AgentReference:
        return await Agent.start(node, **config)
