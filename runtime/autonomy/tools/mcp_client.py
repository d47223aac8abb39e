"""MCP client tools: `McpClient` names an MCP server (SSE or streamable HTTP), `McpTool` is one of its
tools as an agent tool, seen by the model as `{server}_{tool}`.

Each call opens its own session: an MCP sidecar that restarts (or a remote server that drops idle
connections) then costs one reconnect, never a stuck agent. Tool specs are cached per client.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from mcp import Client
from mcp.client.sse import sse_client

from autonomy.tools.base import MAX_ARGUMENTS_BYTES, failure

logger = logging.getLogger("autonomy.tool")

McpTransport = Literal["sse", "streamable_http"]
_REGISTRY: dict[str, McpClient] = {}


class McpClient:
    """An MCP server this node can call. `address` is the SSE URL (`.../sse`) or the streamable HTTP URL."""

    def __init__(
        self,
        name: str,
        address: str,
        transport: McpTransport | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> None:
        if not name or not isinstance(name, str):
            raise ValueError("McpClient(name=...): give the server a name, e.g. 'brave_search'")
        if not isinstance(address, str) or not address.startswith(("http://", "https://")):
            raise ValueError(f"McpClient(address={address!r}): use an http(s) URL, e.g. http://localhost:8001/sse")
        if transport is None:
            transport = "sse" if address.rstrip("/").endswith("/sse") else "streamable_http"
        if transport not in ("sse", "streamable_http"):
            raise ValueError(f"McpClient(transport={transport!r}): use 'sse' or 'streamable_http'")
        self.name = name
        self.address = address
        self.transport: McpTransport = transport
        self.headers = headers
        self.timeout = timeout
        self._specs: dict[str, dict[str, Any]] | None = None
        _REGISTRY[name] = self  # McpTool("name", ...) finds it by name, as upstream's Node(mcp_clients=...) did

    def __repr__(self) -> str:
        return f"McpClient({self.name!r}, {self.address!r})"

    def _connect(self) -> Client:
        if self.transport == "sse":
            return Client(sse_client(self.address, headers=self.headers, timeout=self.timeout), mode="legacy")
        return Client(self.address)

    async def list_tools(self) -> dict[str, dict[str, Any]]:
        """{tool name: {"description", "input_schema"}}, cached after the first call."""
        if self._specs is None:
            async with self._connect() as client:
                result = await client.list_tools()
            self._specs = {
                tool.name: {"description": tool.description or "", "input_schema": dict(tool.input_schema)}
                for tool in result.tools
            }
        return self._specs

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> str:
        async with self._connect() as client:
            result = await client.call_tool(tool, arguments, read_timeout_seconds=self.timeout)
        parts: list[str] = []
        for item in result.content:
            text = getattr(item, "text", None)
            parts.append(text if isinstance(text, str) else item.model_dump_json())
        if not parts and result.structured_content is not None:
            parts.append(json.dumps(result.structured_content))
        text = "\n".join(parts)
        return f"Tool execution failed: {text}" if result.is_error else text


def get_mcp_client(name: str) -> McpClient:
    client = _REGISTRY.get(name)
    if client is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise LookupError(
            f"no MCP server named {name!r} (known: {known}): "
            f"create McpClient(name={name!r}, address=...) or pass it to Node.start(mcp_clients=[...])"
        )
    return client


class McpTool:
    """One tool of an MCP server, for an agent's `tools=[...]`."""

    def __init__(self, server_name: str, tool_name: str, client: McpClient | None = None) -> None:
        self.server_name = server_name
        self.tool_name = tool_name
        self._client = client

    @property
    def name(self) -> str:
        return f"{self.server_name}_{self.tool_name}"

    def __repr__(self) -> str:
        return f"McpTool({self.server_name!r}, {self.tool_name!r})"

    def client(self) -> McpClient:
        return self._client or get_mcp_client(self.server_name)

    async def spec(self) -> dict[str, Any]:
        specs = await self.client().list_tools()
        if self.tool_name not in specs:
            raise LookupError(
                f"MCP server {self.server_name!r} has no tool {self.tool_name!r} (it has: {', '.join(specs)})"
            )
        spec = specs[self.tool_name]
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": spec["description"],
                "parameters": spec["input_schema"] or {"type": "object", "properties": {}},
                "strict": False,
            },
        }

    async def invoke(self, json_argument: str | None) -> str:
        try:
            text = (json_argument or "").strip()
            if len(text.encode()) > MAX_ARGUMENTS_BYTES:
                raise ValueError(f"arguments are over {MAX_ARGUMENTS_BYTES} bytes")
            arguments = json.loads(text) if text else {}
            if not isinstance(arguments, dict):
                raise ValueError("arguments must be a JSON object")
            return await self.client().call_tool(self.tool_name, arguments)
        except Exception as error:
            logger.warning("MCP tool %s failed: %s", self.name, error)
            return failure(error)
