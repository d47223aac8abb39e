"""Autonomy: an actor runtime for apps of agents.

The public face of the framework: every name an app may import from `autonomy` is listed in `__all__`
(pinned by tests/unit/test_public_api.py). Everything else is internal.

The names load on first use (PEP 562 `__getattr__`): `from autonomy import Agent` imports the agents
package; `import autonomy` alone imports nothing. Python runs this file before any submodule, so while it
imported everything, the CLI (`autonomy.cli`) and the operator (`autonomy.spec`) paid seconds for model SDKs,
MCP, FastAPI and gRPC they never use. The `TYPE_CHECKING` imports give type checkers the same names;
`_SOURCES` must hold the same pairs (tests/unit/test_public_api.py checks).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autonomy.actors import Context, Mailbox, RustMailbox, Worker
    from autonomy.agents import (
        Agent,
        AgentBusy,
        AgentError,
        AgentReference,
        AgentStartTimeoutError,
        AgentStopTimeoutError,
        AgentTimeoutError,
        ConversationMessage,
        ReceiveReference,
        SendMessageTimeoutError,
        StreamedConversationSnippet,
        TextContent,
    )
    from autonomy.agents.conversation_response import ConversationResponse
    from autonomy.agents.mcp_server import McpServer
    from autonomy.agents.memory_api import Memory
    from autonomy.agents.repl import Repl
    from autonomy.errors import (
        AddressNotFound,
        AutonomyError,
        DeadlineExceeded,
        DeliveryError,
        MailboxFull,
        MessageTooLarge,
        NodeNotFound,
        PeerGone,
        PeerRejected,
        RemoteError,
        SpecError,
        WorkerError,
    )
    from autonomy.gather import gather
    from autonomy.http import HttpServer, NodeDep, WebSocketNodeDep
    from autonomy.logs import (
        DebugContext,
        InfoContext,
        debug,
        error,
        get_logger,
        info,
        set_log_level,
        set_log_levels,
        warning,
    )
    from autonomy.messages import AssistantMessage, SystemMessage, ToolCallResponseMessage, UserMessage
    from autonomy.models import Model, ModelConfigurationError, ModelError
    from autonomy.node import Node, NodeSettings, RemoteNode, Zone
    from autonomy.node.controller import NodeController
    from autonomy.tools import FilesystemTools, InvokableTool, McpClient, McpTool, Tool, ToolFactory

__version__ = "0.1.0"

__all__ = [
    "AddressNotFound",
    "Agent",
    "AgentBusy",
    "AgentError",
    "AgentReference",
    "AgentStartTimeoutError",
    "AgentStopTimeoutError",
    "AgentTimeoutError",
    "AssistantMessage",
    "AutonomyError",
    "Context",
    "ConversationMessage",
    "ConversationResponse",
    "DeadlineExceeded",
    "DebugContext",
    "DeliveryError",
    "FilesystemTools",
    "HttpServer",
    "InfoContext",
    "InvokableTool",
    "Mailbox",
    "MailboxFull",
    "McpClient",
    "McpServer",
    "McpTool",
    "Memory",
    "MessageTooLarge",
    "Model",
    "ModelConfigurationError",
    "ModelError",
    "Node",
    "NodeController",
    "NodeDep",
    "NodeNotFound",
    "NodeSettings",
    "PeerGone",
    "PeerRejected",
    "ReceiveReference",
    "RemoteError",
    "RemoteNode",
    "Repl",
    "RustMailbox",
    "SendMessageTimeoutError",
    "SpecError",
    "StreamedConversationSnippet",
    "SystemMessage",
    "TextContent",
    "Tool",
    "ToolCallResponseMessage",
    "ToolFactory",
    "UserMessage",
    "WebSocketNodeDep",
    "Worker",
    "WorkerError",
    "Zone",
    "debug",
    "error",
    "gather",
    "get_logger",
    "info",
    "set_log_level",
    "set_log_levels",
    "warning",
]

# The module each public name comes from (the TYPE_CHECKING imports above, as data).
_SOURCES: dict[str, str] = {
    name: module
    for module, names in {
        "autonomy.agents": (
            "Agent",
            "AgentBusy",
            "AgentError",
            "AgentReference",
            "AgentStartTimeoutError",
            "AgentStopTimeoutError",
            "AgentTimeoutError",
            "ConversationMessage",
            "ReceiveReference",
            "SendMessageTimeoutError",
            "StreamedConversationSnippet",
            "TextContent",
        ),
        "autonomy.actors": ("Context", "Mailbox", "RustMailbox", "Worker"),
        "autonomy.agents.conversation_response": ("ConversationResponse",),
        "autonomy.agents.mcp_server": ("McpServer",),
        "autonomy.agents.memory_api": ("Memory",),
        "autonomy.agents.repl": ("Repl",),
        "autonomy.errors": (
            "AddressNotFound",
            "AutonomyError",
            "DeadlineExceeded",
            "DeliveryError",
            "MailboxFull",
            "MessageTooLarge",
            "NodeNotFound",
            "PeerGone",
            "PeerRejected",
            "RemoteError",
            "SpecError",
            "WorkerError",
        ),
        "autonomy.gather": ("gather",),
        "autonomy.http": ("HttpServer", "NodeDep", "WebSocketNodeDep"),
        "autonomy.logs": (
            "DebugContext",
            "InfoContext",
            "debug",
            "error",
            "get_logger",
            "info",
            "set_log_level",
            "set_log_levels",
            "warning",
        ),
        "autonomy.messages": ("AssistantMessage", "SystemMessage", "ToolCallResponseMessage", "UserMessage"),
        "autonomy.models": ("Model", "ModelConfigurationError", "ModelError"),
        "autonomy.node": ("Node", "NodeSettings", "RemoteNode", "Zone"),
        "autonomy.node.controller": ("NodeController",),
        "autonomy.tools": ("FilesystemTools", "InvokableTool", "McpClient", "McpTool", "Tool", "ToolFactory"),
    }.items()
    for name in names
}


# Hidden from type checkers, which see the imports above instead: a module __getattr__ would make them
# accept any name, typos included.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        module = _SOURCES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        if name == "Node":
            # A Node serves HTTP only once the http layer has registered its server class (http sits above
            # node, which cannot import it). The eager package always loaded http; apps rely on it.
            importlib.import_module("autonomy.http")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
