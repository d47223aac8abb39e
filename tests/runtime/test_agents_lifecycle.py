"""Starting and stopping agents on a node: names, limits, many agents, errors that say what to fix."""

from __future__ import annotations

import asyncio

import pytest

from autonomy import Agent, AgentReference, Model, ModelConfigurationError, Node
from autonomy.errors import AddressNotFound
from tests.support.scripted_llm import Reply, ScriptedLLM


async def test_start_many_stop_and_restart(llm: ScriptedLLM) -> None:
    llm.script.responder = lambda body: Reply(text="hi from " + body["messages"][0]["content"][:5])
    async with Node.serve(name="life", discovery="none", http_server=False) as node:
        agents = await Agent.start_many(node, "agent", 5, model=Model("m"))
        assert len({a.name for a in agents}) == 5 and all(len(a.name) == 24 for a in agents)
        replies = await asyncio.gather(*(a.send("hello") for a in agents))
        assert all(r[-1].text == "hi from agent" for r in replies)
        assert {a["name"] for a in await node.list_agents()} == {a.name for a in agents}

        henry = await Agent.start(node=node, name="henry", instructions="x", model=Model("m"))
        with pytest.raises(ValueError, match="already runs"):
            await Agent.start(node=node, name="henry", instructions="x", model=Model("m"))
        await Agent.stop(node, "henry")
        assert "henry" not in {a["name"] for a in await node.list_agents()}
        with pytest.raises(AddressNotFound):
            await henry.send("anyone?", timeout=5)
        again = await Agent.start(node=node, name="henry", instructions="x", model=Model("m"))
        assert (await again.send("back"))[-1].text.startswith("hi from")
        assert await again.identifier() == "henry"


async def test_start_errors_name_the_fix(llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Node.serve(name="errs", discovery="none", http_server=False) as node:
        with pytest.raises(TypeError, match="knowledge"):
            await Agent.start(node=node, instructions="x", model=Model("m"), knowledge=object())
        with pytest.raises(ValueError, match="letters, digits"):
            await Agent.start(node=node, name="bad name", instructions="x", model=Model("m"))
        with pytest.raises(ValueError, match="subagents"):
            await Agent.start(node=node, instructions="x", model=Model("m"), subagents={"r": {"model": "m"}})
        for variable in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(variable, raising=False)
        with pytest.raises(ModelConfigurationError, match="OPENAI_BASE_URL"):
            await Agent.start(node=node, instructions="x")  # the default model, and nothing configured


async def test_reference_to_an_unknown_agent_fails_fast(llm: ScriptedLLM) -> None:
    async with Node.serve(name="refs", discovery="none", http_server=False) as node:
        with pytest.raises(AddressNotFound):
            await AgentReference("ghost", node).send("hello", timeout=5)


async def test_an_exposed_agent_as_a_tool_of_another(llm: ScriptedLLM) -> None:
    def respond(body: dict) -> Reply:
        system, last = body["messages"][0]["content"], body["messages"][-1]
        if system.startswith("Expert"):
            return Reply(text=f"expert says: {last['content']}", delay=0.5)
        if last["role"] == "user":
            return Reply(tool_calls=[("expert", {"prompt": "question from " + last["content"]})])
        return Reply(text="relayed: " + last["content"])

    llm.script.responder = respond
    async with Node.serve(name="tools", discovery="none", http_server=False) as node:
        expert = await Agent.start(
            node=node, name="expert", instructions="Expert.", model=Model("m"), exposed_as="Ask me"
        )
        lead = await Agent.start(node=node, name="lead", instructions="Lead.", model=Model("m"), tools=[expert])
        first, second = await asyncio.gather(lead.send("a", conversation="1"), lead.send("b", conversation="2"))
        assert first[-1].text == "relayed: expert says: question from a"
        assert second[-1].text == "relayed: expert says: question from b"  # neither call interrupted the other
        assert node.agents["expert"].core.conversations == {}  # the tool calls' conversations were forgotten
        spec = (await expert.spec())["function"]
        assert spec["description"] == "Ask me" and spec["parameters"]["required"] == ["prompt"]
        assert "prompt" in await expert.invoke("{}")


async def test_model_connections_close_with_the_node(llm: ScriptedLLM) -> None:
    """The shared model client (its aiohttp pool) is closed when the node stops, not left to the interpreter."""
    from autonomy.models import clients

    llm.script.responder = lambda body: Reply(text="hi")
    loop = asyncio.get_running_loop()
    async with Node.serve(name="pools", discovery="none", http_server=False) as node:
        henry = await Agent.start(node=node, name="henry", instructions="x", model=Model("m"))
        assert (await henry.send("hello"))[-1].text == "hi"
        [client] = clients._BY_LOOP[loop].values()
        assert not client.is_closed()
    assert client.is_closed() and loop not in clients._BY_LOOP
