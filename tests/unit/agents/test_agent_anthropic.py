"""The same agent loop against Anthropic's Messages API (scripted), through the `anthropic` SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from autonomy.agents.conversation import Request
from autonomy.agents.core import AgentCore
from autonomy.agents.memory import Memory
from autonomy.agents.messages import user
from autonomy.agents.settings import AgentSettings
from autonomy.models import Model, ModelRequestError
from autonomy.tools import Tool
from tests.support.scripted_llm import Reply, ScriptedLLM


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
def claude(llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    return llm


async def test_tool_calling_over_anthropic(claude: ScriptedLLM) -> None:
    claude.script.when("add 2 and 40", Reply(text="Let me add.", tool_calls=[("add", {"a": 2, "b": 40})]))
    claude.script.when("42", Reply(text="It is 42"))
    model = Model("claude-sonnet-4-v1")
    assert model.provider == "anthropic" and model.resolved_name == "claude-sonnet-4-20250514"
    core = AgentCore(AgentSettings(name="c", instructions="Be exact.", model=model, tools=[Tool(add)]), Memory("c"))
    frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    core.submit("", "c1", Request([user("add 2 and 40")], frames.put))
    frame = await asyncio.wait_for(frames.get(), 20)
    messages = frame["messages"]
    assert [m["role"] for m in messages] == ["assistant", "tool", "assistant"]
    assert messages[0]["content"]["text"] == "Let me add." and messages[1]["content"]["text"] == "42"
    assert messages[-1]["content"]["text"] == "It is 42"
    second = claude.script.requests[-1]
    assert second["system"].startswith("Be exact.") and second["model"] == "claude-sonnet-4-20250514"
    assert {t["name"] for t in second["tools"]} >= {"add", "get_current_time_utc"}
    tool_use = second["messages"][1]["content"][1]
    assert tool_use["type"] == "tool_use" and tool_use["input"] == {"a": 2, "b": 40}
    assert second["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": tool_use["id"],
        "content": "42",
    }


async def test_anthropic_errors_are_retried_then_explained(claude: ScriptedLLM) -> None:
    claude.script.then(Reply(status=529, retry_after=0.01), Reply(text="fine"))
    assert (await Model("claude-x").complete([{"role": "user", "content": "hi"}])).text == "fine"
    claude.script.then(Reply(status=401))
    with pytest.raises(ModelRequestError, match="ANTHROPIC_API_KEY"):
        await Model("claude-x").complete([{"role": "user", "content": "hi"}])
