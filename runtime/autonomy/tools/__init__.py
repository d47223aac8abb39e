"""Tools for agents: Python functions (`Tool`), MCP servers (`McpClient`, `McpTool`), built-in time tools,
and `FilesystemTools`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autonomy.tools.base import InvokableTool, ToolFactory, failure
from autonomy.tools.filesystem import Filesystem, FilesystemTools
from autonomy.tools.function import Tool
from autonomy.tools.time_tools import get_current_time, get_current_time_utc, time_tools

if TYPE_CHECKING:
    from autonomy.tools.mcp_client import McpClient, McpTool, get_mcp_client

_MCP_NAMES = ("McpClient", "McpTool", "get_mcp_client")


def __getattr__(name: str) -> Any:
    # The MCP names load on first use: the mcp SDK is ~40 MB of a node's memory, and most agents never
    # use it (importing `autonomy.tools.base` runs this file).
    if name in _MCP_NAMES:
        from autonomy.tools import mcp_client

        return getattr(mcp_client, name)
    raise AttributeError(f"module 'autonomy.tools' has no attribute {name!r}")

__all__ = [
    "Filesystem",
    "FilesystemTools",
    "InvokableTool",
    "McpClient",
    "McpTool",
    "Tool",
    "ToolFactory",
    "failure",
    "get_current_time",
    "get_current_time_utc",
    "get_mcp_client",
    "time_tools",
]
