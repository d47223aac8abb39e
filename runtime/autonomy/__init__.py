"""Autonomy: an actor runtime for apps of agents.

The public face of the framework: every name an app may import from `autonomy` is re-exported here and
listed in `__all__` (pinned by tests/unit/test_public_api.py). Everything else is internal.
"""

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
from autonomy.agents.mcp_server import McpServer
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
from autonomy.http import HttpServer, NodeDep, WebSocketNodeDep
from autonomy.models import Model, ModelConfigurationError, ModelError
from autonomy.node import Node, NodeSettings, RemoteNode, Zone
from autonomy.tools import FilesystemTools, InvokableTool, McpClient, McpTool, Tool

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
    "AutonomyError",
    "ConversationMessage",
    "DeadlineExceeded",
    "DeliveryError",
    "FilesystemTools",
    "HttpServer",
    "InvokableTool",
    "MailboxFull",
    "McpClient",
    "McpServer",
    "McpTool",
    "MessageTooLarge",
    "Model",
    "ModelConfigurationError",
    "ModelError",
    "Node",
    "NodeDep",
    "NodeNotFound",
    "NodeSettings",
    "PeerGone",
    "PeerRejected",
    "ReceiveReference",
    "RemoteError",
    "RemoteNode",
    "SendMessageTimeoutError",
    "SpecError",
    "StreamedConversationSnippet",
    "TextContent",
    "Tool",
    "WebSocketNodeDep",
    "WorkerError",
    "Zone",
]
