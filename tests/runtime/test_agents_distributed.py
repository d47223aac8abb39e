"""Agents across real node processes: subagents spread over runner nodes, references to remote agents,
long-term memory across a node restart, MCP servers and clients."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autonomy import Agent, AgentReference, McpClient, McpServer, McpTool, Model, Node, Zone
from tests.support.processes import free_port, start_python, stop, wait_for_port
from tests.support.scripted_llm import Reply, ScriptedLLM, last_text

AGENT_MAIN = Path(__file__).with_name("agent_node_main.py")


async def wait_for_nodes(node: Node, count: int, filter: str) -> list[Any]:
    for _ in range(200):
        found = await Zone.nodes(node, filter=filter)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(found)} nodes match {filter!r}")


async def test_parallel_subagents_run_on_runner_nodes(local_zone: Any, node_options: dict, llm: ScriptedLLM) -> None:
    local_zone.start("z-runner-pod-0", "runner-pod")
    local_zone.start("z-runner-pod-1", "runner-pod")

    def respond(body: dict[str, Any]) -> Reply:
        text = last_text(body)
        if text == "research two topics":
            tasks = {"role": "researcher", "tasks": ["topic alpha", "topic beta"], "timeout": 20}
            return Reply(tool_calls=[("delegate_to_subagents_parallel", tasks)])
        if text.startswith("topic"):
            return Reply(text=f"found {text}", delay=1.0)
        return Reply(text="summary: " + text)

    llm.script.responder = respond
    async with Node.serve(name="z-main-pod-0", **node_options) as node:
        await wait_for_nodes(node, 2, "runner")
        parent = await Agent.start(
            node=node,
            name="lead",
            instructions="Delegate research.",
            model=Model("scripted"),
            subagents={"researcher": {"instructions": "Research the topic.", "max_iterations": 5}},
            subagent_runner_filter="runner",
        )
        # Warm-up: the first agent shipped to a bare runner imports the agents layer there (about 1.5 s;
        # runner nodes no longer load it at start). What is timed below is the parallelism.
        await parent.send("research two topics", conversation="warm-up", timeout=60)
        start = time.monotonic()
        reply = await parent.send("research two topics", conversation="r1", timeout=60)
        elapsed = time.monotonic() - start
        results = json.loads(next(m.text for m in reply if m.role == "tool"))
        assert [r["result"] for r in results] == ["found topic alpha", "found topic beta"]
        assert all(r["success"] for r in results)
        assert {r["node"] for r in results} == {"z-runner-pod-0", "z-runner-pod-1"}
        assert all(r["subagent"].startswith("lead__subagent__researcher__") for r in results)
        assert elapsed < 1.9  # two 1 s subagent answers ran at the same time
        assert reply[-1].text.startswith("summary: ")
        # the subagents were stopped on the runners afterwards
        for runner in await Zone.nodes(node, filter="runner"):
            assert await runner.list_agents() == []
            assert not [w for w in await runner.list_workers() if "subagent" in w["name"]]


async def test_reference_to_an_agent_on_another_node(local_zone: Any, node_options: dict, llm: ScriptedLLM) -> None:
    specs = [{"name": "henry", "instructions": "Hi.", "tools": ["add"], "enable_ask_for_user_input": True}]
    env = {"AGENT_SPECS": json.dumps(specs), "OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "t"}
    local_zone.start("z-agents-pod-0", "agents-pod", extra_env=env, script=AGENT_MAIN)
    llm.script.when("sum 2 3", Reply(tool_calls=[("add", {"a": 2, "b": 3})]))
    llm.script.when("5", Reply(text="the sum is 5"))
    llm.script.when("ask me", Reply(tool_calls=[("ask_user_for_input", {"question": "Yes or no?"})]))
    async with Node.serve(name="z-main-pod-0", **node_options) as node:
        [remote] = await wait_for_nodes(node, 1, "agents")
        henry = AgentReference("henry", remote)
        reply = await henry.send("sum 2 3", conversation="x", timeout=30)
        assert reply[-1].content.text == "the sum is 5" and henry.node_name == "z-agents-pod-0"
        parts = [p async for p in henry.send_stream("sum 2 3", conversation="y", timeout=30)]
        assert [p.part_nb for p in parts] == list(range(len(parts))) and parts[-1].finished
        pending = [await henry.send_message("sum 2 3", conversation=f"fan-{i}") for i in range(5)]
        answers = [await p.receive_message(timeout=30) for p in pending]
        assert all(a[-1].text == "the sum is 5" for a in answers)
        await henry.send("ask me", conversation="z", timeout=30)
        assert await henry.is_paused(conversation="z")
        state = await henry.get_conversation_state(conversation="x")
        assert state == {"is_paused": False, "phase": "done", "message_count": 4, "scope": "", "conversation": "x"}
        assert [a["name"] for a in await remote.list_agents()] == ["henry"]


async def test_long_term_memory_survives_a_restart(local_zone: Any, llm: ScriptedLLM, tmp_path: Path) -> None:
    specs = [{"name": "keeper", "instructions": "Remember.", "enable_long_term_memory": True}]
    env = {
        "AGENT_SPECS": json.dumps(specs),
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "t",
        "AUTONOMY_DATA_DIR": str(tmp_path / "data"),
        "AUTONOMY_DISCOVERY": "none",
    }
    llm.script.responder = lambda body: Reply(text=f"noted ({len(body['messages'])} messages in context)")
    first = local_zone.start("z-keeper-pod-0", "keeper-pod", extra_env=env, script=AGENT_MAIN)
    body = {"message": "my number is 7", "scope": "alice", "conversation": "c"}
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"http://127.0.0.1:{first.http_port}/agents/keeper", json=body)
        assert answer.json()[-1]["content"]["text"] == "noted (2 messages in context)"
        assert first.terminate() == 0

        second = local_zone.start("z-keeper-pod-0", "keeper-pod", extra_env=env, script=AGENT_MAIN)
        base = f"http://127.0.0.1:{second.http_port}"
        history = (await http.get(f"{base}/agents/keeper/scopes/alice/conversations/c")).json()
        texts = [m["content"]["text"] for m in history["conversations"][0]["messages"]]
        assert texts == ["my number is 7", "noted (2 messages in context)"]
        again = await http.post(f"{base}/agents/keeper", json={**body, "message": "what is my number?"})
        assert again.json()[-1]["content"]["text"] == "noted (4 messages in context)"
        assert "my number is 7" in json.dumps(llm.script.requests[-1]["messages"])


@pytest.fixture
def mcp_server_url() -> Iterator[str]:
    port = free_port()
    process = start_python(["-m", "tests.support.mcp_test_server", str(port), "sse"])
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/sse"
    finally:
        stop(process)


async def test_agent_calls_an_mcp_server_subprocess(mcp_server_url: str, llm: ScriptedLLM) -> None:
    llm.script.when("use mcp", Reply(tool_calls=[("calc_add", {"a": 40, "b": 2})]))
    llm.script.when("42", Reply(text="MCP says 42"))
    clients = [McpClient(name="calc", address=mcp_server_url)]
    async with Node.serve(name="mcp-user", discovery="none", http_server=False, mcp_clients=clients) as node:
        assert set(node.mcp_clients) == {"calc"}
        agent = await Agent.start(
            node=node, name="m", instructions="x", model=Model("s"), tools=[McpTool("calc", "add")]
        )
        reply = await agent.send("use mcp", timeout=30)
        assert reply[-2].role == "tool" and reply[-2].text == "42" and reply[-1].text == "MCP says 42"
        assert llm.script.requests[0]["tools"][0]["function"]["name"] == "calc_add"


async def test_agents_served_as_mcp_tools(llm: ScriptedLLM) -> None:
    llm.script.default = Reply(text="served over MCP")
    server = McpServer(listen_address="127.0.0.1:0")
    async with Node.serve(name="mcp-host", discovery="none", http_server=False, mcp_server=server) as node:
        await Agent.start(
            node=node, name="helper", instructions="x", model=Model("s"), exposed_as="Helps with anything"
        )
        await Agent.start(node=node, name="private", instructions="x", model=Model("s"))
        client = McpClient(name="host", address=f"http://127.0.0.1:{server.port}/sse")
        specs = await client.list_tools()
        assert set(specs) == {"helper"} and specs["helper"]["description"] == "Helps with anything"
        assert await client.call_tool("helper", {"prompt": "hello"}) == "served over MCP"
        assert last_text(llm.script.requests[-1]) == "hello"
    assert os.environ.get("OPENAI_BASE_URL") == llm.base_url
