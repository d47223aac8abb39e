"""`McpServer`: the node's agents started with `exposed_as`, served as MCP tools over SSE.

`Node.start(mcp_server=McpServer(listen_address="0.0.0.0:8001"))` serves `GET /sse` and
`POST /messages/`. Each exposed agent is a tool taking `{"prompt": string}`; a call sends the prompt to
the agent and returns its answer. The tool list follows the agents as they start and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer

from autonomy.agents.reference import AgentReference

logger = logging.getLogger("autonomy.mcp")


class _AgentsMcp(MCPServer):
    def __init__(self, node: Any) -> None:
        super().__init__("Autonomy", warn_on_duplicate_tools=False)
        self.node = node
        self._served: set[str] = set()

    def _sync(self) -> None:
        exposed = {
            name: agent.settings.exposed_as
            for name, agent in self.node.agents.items()
            if getattr(agent.settings, "exposed_as", None)
        }
        for name in self._served - set(exposed):
            self.remove_tool(name)
            self._served.discard(name)
        for name, description in exposed.items():
            if name in self._served:
                continue
            ask = _asker(AgentReference(name, self.node, description))
            self.add_tool(ask, name=name, description=description)
            self._served.add(name)

    async def list_tools(self) -> Any:
        self._sync()
        return await super().list_tools()

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        self._sync()
        return await super().call_tool(name, arguments, context)


def _asker(reference: AgentReference) -> Any:
    async def ask(prompt: str) -> str:
        reply = await reference.send(prompt)
        return reply[-1].text if reply else ""

    return ask


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the node owns the signals
        yield


class McpServer:
    _running = 0  # servers up in this process: the last one to stop tidies the SSE library's watcher

    def __init__(self, listen_address: str = "0.0.0.0:8001") -> None:
        host, sep, port = listen_address.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"McpServer(listen_address={listen_address!r}): use HOST:PORT, e.g. 0.0.0.0:8001")
        self.host, self.port = host or "0.0.0.0", int(port)
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, node: Any) -> None:
        app = _AgentsMcp(node).sse_app(host=self.host)
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning", lifespan="off")
        self._server = server = _QuietServer(config)
        self._task = asyncio.create_task(server.serve())
        while not server.started:
            if self._task.done():
                self._task.result()
                raise OSError(f"MCP server on {self.host}:{self.port} stopped during start-up")
            await asyncio.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        McpServer._running += 1
        logger.info("MCP server on %s:%d (SSE at /sse)", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)
            McpServer._running -= 1
            if McpServer._running == 0:
                await _stop_sse_watchers()
        self._server = self._task = None


async def _stop_sse_watchers() -> None:
    """sse-starlette polls for shutdown in a task per event loop that never ends on its own when uvicorn
    does not own the signals (ours does not: the node does). It restarts with the next SSE connection."""
    watchers = [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "_shutdown_watcher" and not task.done()
    ]
    for task in watchers:
        task.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
