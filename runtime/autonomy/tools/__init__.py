"""Tools for agents: Python functions (`Tool`), MCP servers (`McpClient`, `McpTool`), built-in time tools,
and `FilesystemTools`."""

from autonomy.tools.base import InvokableTool, ToolFactory, failure
from autonomy.tools.filesystem import Filesystem, FilesystemTools
from autonomy.tools.function import Tool
from autonomy.tools.mcp_client import McpClient, McpTool, get_mcp_client
from autonomy.tools.time_tools import get_current_time, get_current_time_utc, time_tools

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
