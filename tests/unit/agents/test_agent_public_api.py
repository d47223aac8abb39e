"""The agent half of the public API: the names upstream apps import from `autonomy`."""

import autonomy

AGENT_NAMES = {
    "Agent", "AgentReference", "AgentStartTimeoutError", "AgentStopTimeoutError", "AgentTimeoutError",
    "ConversationMessage", "FilesystemTools", "McpClient", "McpServer", "McpTool", "Model", "ModelConfigurationError",
    "SendMessageTimeoutError", "Tool",
}  # fmt: skip


def test_agent_names_are_exported() -> None:
    assert AGENT_NAMES <= set(autonomy.__all__)
    for name in AGENT_NAMES:
        assert getattr(autonomy, name) is not None


def test_timeouts_are_asyncio_timeouts() -> None:
    assert issubclass(autonomy.SendMessageTimeoutError, TimeoutError)
    assert issubclass(autonomy.AgentStartTimeoutError, autonomy.AgentTimeoutError)
