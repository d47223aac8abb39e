"""A real MCP server for tests, run as a subprocess: `python -m tests.support.mcp_test_server PORT KIND`."""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("test-tools")


@server.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@server.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(reason)


if __name__ == "__main__":
    port, transport = int(sys.argv[1]), sys.argv[2]
    server.run(transport, host="127.0.0.1", port=port)  # type: ignore[call-overload]
