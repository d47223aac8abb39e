"""Subagents: a parent agent delegates to agents it starts on demand, by role.

The parent gets five tools: `start_subagent`, `delegate_to_subagent`, `delegate_to_subagents_parallel`,
`list_subagents`, `stop_subagent`. Parallel delegation starts one subagent per task and, given a runner
filter, spreads them over the zone's nodes found with `Zone.nodes(filter=...)`: the subagent's worker is
shipped to the runner and its conversations run there. Each conversation of the parent has its own
subagents. Missing settings of a role fall back to the agent defaults (not to smaller documented values).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from autonomy.agents.reference import AgentReference
from autonomy.agents.settings import AgentSettings
from autonomy.agents.worker import AgentWorker, build_core
from autonomy.models.model import DEFAULT_MODEL, Model
from autonomy.names import random_hex
from autonomy.node import Zone
from autonomy.tools.function import Tool

logger = logging.getLogger("autonomy.subagents")

_SETTING_KEYS = {
    "max_iterations",
    "max_execution_time",
    "max_messages_in_short_term_memory",
    "max_tokens_in_short_term_memory",
    "enable_long_term_memory",
    "enable_ask_for_user_input",
}
_KNOWN_KEYS = _SETTING_KEYS | {"instructions", "model", "tools", "auto_start", "runner_filter"}


def check_subagents(subagents: dict[str, Any]) -> None:
    for role, config in subagents.items():
        if not isinstance(role, str) or not role.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"subagent role {role!r}: use letters, digits, '_' and '-'")
        if not isinstance(config, dict) or not isinstance(config.get("instructions"), str):
            raise ValueError(f"subagents[{role!r}] must be a dict with 'instructions' (a string)")
        unknown = set(config) - _KNOWN_KEYS
        if unknown:
            raise ValueError(f"subagents[{role!r}]: unknown keys {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}")


@dataclass
class Running:
    reference: AgentReference
    where: Any  # the local Node or a RemoteNode


class SubagentManager:
    """The subagents of one conversation of one parent agent."""

    def __init__(self, tools: SubagentTools, scope: str, conversation: str) -> None:
        self.tools = tools
        self.scope = scope
        self.conversation = conversation
        self.running: dict[str, Running] = {}

    def _config(self, role: str) -> dict[str, Any]:
        config: dict[str, Any] | None = self.tools.subagents.get(role)
        if config is None:
            raise ValueError(f"unknown subagent role {role!r}; roles: {', '.join(self.tools.subagents)}")
        return config

    def _settings(self, role: str) -> AgentSettings:
        config = self._config(role)
        model = config.get("model")
        settings = AgentSettings(
            name=f"{self.tools.parent}__subagent__{role}__{random_hex(6)}",
            instructions=config["instructions"],
            model=model if isinstance(model, Model) else self.tools.parent_model or Model(DEFAULT_MODEL),
            tools=list(config.get("tools") or []),
            **{k: config[k] for k in _SETTING_KEYS if k in config},
        )
        settings.check()
        return settings

    async def _start(self, role: str, where: Any = None) -> Running:
        settings = self._settings(role)
        node = self.tools.node
        if where is None or where is node:
            worker = AgentWorker(settings, build_core(settings), node)
            await node.start_worker(settings.name, worker, mailbox_size=10_000)
            node.agents[settings.name] = worker
            return Running(AgentReference(settings.name, node), node)
        await where.start_worker(settings.name, AgentWorker(settings))  # shipped; runs on the runner
        return Running(AgentReference(settings.name, where), where)

    async def _stop(self, running: Running) -> None:
        name = running.reference.name
        node = self.tools.node
        try:
            if running.where is node:
                worker = node.agents.pop(name, None)
                await node.stop_worker(name)
                if worker is not None and worker.core is not None:
                    await worker.core.stop()
            else:
                await running.reference._call({"type": "stop_request"}, timeout=10)
                await running.where.stop_worker(name)
        except Exception as error:
            logger.warning("stopping subagent %s failed: %s", name, error)

    async def start_subagent(self, role: str) -> str:
        """Start a subagent for a role (it keeps its memory until stopped)."""
        if role in self.running:
            return f"subagent {role!r} already runs as {self.running[role].reference.name}"
        self.running[role] = await self._start(role)
        return f"started subagent {role!r} as {self.running[role].reference.name}"

    async def delegate_to_subagent(self, role: str, task: str, timeout: float = 60) -> str:
        """Give a task to the subagent of a role (started if needed) and return its answer.

        Args:
            role: the subagent role
            task: everything the subagent needs to know to do the task
            timeout: seconds to wait for the answer
        """
        if role not in self.running:
            self.running[role] = await self._start(role)
        reply = await self.running[role].reference.send(task, self.scope, self.conversation, timeout=timeout)
        return reply[-1].text if reply else ""

    async def delegate_to_subagents_parallel(
        self, role: str, tasks: list[str], timeout: float = 60, runner_filter: str | None = None
    ) -> str:
        """Run independent tasks in parallel, one new subagent of a role per task; returns a JSON list of
        {task, result or error, subagent, success}.

        Args:
            role: the subagent role
            tasks: the tasks, each complete on its own
            timeout: seconds to wait for each answer
            runner_filter: run the subagents on the zone's nodes whose pod name contains this
        """
        self._config(role)
        if not tasks:
            raise ValueError("tasks: give at least one task")
        wanted = runner_filter or self._config(role).get("runner_filter") or self.tools.runner_filter
        places: list[Any] = [self.tools.node]
        if wanted:
            runners = await Zone.nodes(self.tools.node, filter=wanted)
            if runners:
                places = list(runners)
            else:
                logger.warning("no node matches runner filter %r: subagents run locally", wanted)

        async def one(index: int, task: str) -> dict[str, Any]:
            running: Running | None = None
            try:
                running = await self._start(role, places[index % len(places)])
                reply = await running.reference.send(task, self.scope, self.conversation, timeout=timeout)
                return {
                    "task": task,
                    "result": reply[-1].text if reply else "",
                    "subagent": running.reference.name,
                    "node": running.reference.node_name,
                    "success": True,
                }
            except Exception as error:
                return {
                    "task": task,
                    "error": f"{type(error).__name__}: {error}",
                    "subagent": running.reference.name if running else None,
                    "success": False,
                }
            finally:
                if running is not None:
                    await self._stop(running)

        results = await asyncio.gather(*(one(i, t) for i, t in enumerate(tasks)))
        return json.dumps(results)

    async def list_subagents(self) -> str:
        """List the subagent roles and which are running."""
        return json.dumps(
            {
                role: {"running": role in self.running, "name": self.running[role].reference.name}
                if role in self.running
                else {"running": False}
                for role in self.tools.subagents
            }
        )

    async def stop_subagent(self, role: str) -> str:
        """Stop the running subagent of a role."""
        running = self.running.pop(role, None)
        if running is None:
            return f"no subagent {role!r} is running"
        await self._stop(running)
        return f"stopped subagent {role!r}"

    def as_tools(self) -> list[Tool]:
        return [
            Tool(self.start_subagent),
            Tool(self.delegate_to_subagent),
            Tool(self.delegate_to_subagents_parallel),
            Tool(self.list_subagents),
            Tool(self.stop_subagent),
        ]


class SubagentTools:
    """The tool factory an agent with `subagents=` gets."""

    def __init__(
        self, parent: str, subagents: dict[str, Any], runner_filter: str | None, node: Any, model: Model | None = None
    ) -> None:
        self.parent = parent
        self.subagents = subagents
        self.runner_filter = runner_filter
        self.node = node
        self.parent_model = model

    def create_tools(self, scope: str, conversation: str, agent_name: str | None = None) -> list[Tool]:
        return SubagentManager(self, scope, conversation).as_tools()
