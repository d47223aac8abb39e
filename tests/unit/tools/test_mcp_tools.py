"""MCP client tools against a real MCP server subprocess, over SSE and streamable HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autonomy.tools import McpClient, McpTool
from tests.support.processes import free_port, start_python, stop, wait_for_port


@pytest.fixture(scope="module", params=["sse", "streamable-http"])
def mcp_server(request: pytest.FixtureRequest) -> Iterator[str]:
    port = free_port()
    process = start_python(["-m", "tests.support.mcp_test_server", str(port), request.param])
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/sse" if request.param == "sse" else f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)


async def test_mcp_tool_spec_and_call(mcp_server: str) -> None:
    client = McpClient(name="calc", address=mcp_server)
    tool = McpTool("calc", "add")
    spec = (await tool.spec())["function"]
    assert spec["name"] == "calc_add" and set(spec["parameters"]["properties"]) == {"a", "b"}
    assert await tool.invoke('{"a": 2, "b": 40}') == "42"
    assert client.transport == ("sse" if mcp_server.endswith("/sse") else "streamable_http")


async def test_mcp_errors_come_back_as_text(mcp_server: str) -> None:
    McpClient(name="calc", address=mcp_server)
    assert "Tool execution failed" in await McpTool("calc", "fail").invoke('{"reason": "nope"}')
    assert "no MCP server named 'other'" in await McpTool("other", "add").invoke("{}")
    with pytest.raises(LookupError, match="has no tool 'nope'"):
        await McpTool("calc", "nope").spec()


def test_bad_address_is_explained() -> None:
    with pytest.raises(ValueError, match="http"):
        McpClient(name="x", address="localhost:8001")
