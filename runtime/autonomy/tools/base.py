"""What a tool is to an agent: a name, an OpenAI function spec, and `invoke(json) -> str`.

Anything with that shape is a tool (`InvokableTool`), which is how Python functions, MCP tools, agents
exposed as tools and custom tools mix in one `tools=[...]` list. A *tool factory* makes tools per
(scope, conversation), for per-tenant resources such as a private filesystem.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

#: Arguments above this size are refused before parsing: a model looping on output must not eat memory.
MAX_ARGUMENTS_BYTES = 1_000_000


@runtime_checkable
class InvokableTool(Protocol):
    @property
    def name(self) -> str: ...

    async def spec(self) -> dict[str, Any]:
        """An OpenAI function spec: {"type": "function", "function": {name, description, parameters}}."""
        ...

    async def invoke(self, json_argument: str | None) -> str:
        """Run the tool; failures come back as text for the model, never as exceptions."""
        ...


@runtime_checkable
class ToolFactory(Protocol):
    def create_tools(self, scope: str, conversation: str, agent_name: str | None = None) -> list[Any]: ...


def failure(error: BaseException) -> str:
    """The text a model sees when a tool raised: type and message, so it can correct itself."""
    return f"Tool execution failed: {type(error).__name__}: {error}"
