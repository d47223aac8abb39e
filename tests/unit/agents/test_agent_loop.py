"""The THINKING/ACTING loop of one agent against the scripted OpenAI-compatible server (no node)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from autonomy.agents.conversation import INTERRUPTED_TEXT, Request
from autonomy.agents.core import AgentCore
from autonomy.agents.memory import Memory
from autonomy.agents.messages import user
from autonomy.agents.settings import AgentSettings
from autonomy.models import Model
from autonomy.tools import Tool
from tests.support.scripted_llm import Reply, ScriptedLLM


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def make_agent(**overrides: Any) -> AgentCore:
    overrides.setdefault("tools", [Tool(add)])
    settings = AgentSettings(name="henry", instructions="You are Henry.", model=Model("gpt-test"), **overrides)
    return AgentCore(settings, Memory("henry"))


async def ask(agent: AgentCore, text: str, conversation: str = "c1", stream: bool = False) -> list[dict[str, Any]]:
    frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    assert agent.submit("", conversation, Request([user(text)], frames.put, stream=stream))
    collected = []
    while True:
        frame = await asyncio.wait_for(frames.get(), 20)
        collected.append(frame)
        if frame["type"] == "error" or frame.get("finished"):
            return collected


async def test_multi_step_tool_calling(llm: ScriptedLLM) -> None:
    llm.script.when("add 20 and 22", Reply(tool_calls=[("add", {"a": "20", "b": 22})]))
    llm.script.when("42", Reply(tool_calls=[("add", {"a": 42, "b": 1})]))
    llm.script.when("43", Reply(text="The answer is 43"))
    agent = make_agent()
    [frame] = await ask(agent, "add 20 and 22, then add 1")
    messages = frame["messages"]
    assert [m["role"] for m in messages] == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert messages[1]["content"]["text"] == "42" and messages[3]["content"]["text"] == "43"
    assert messages[-1]["content"]["text"] == "The answer is 43"
    assert messages[0]["tool_calls"][0]["function"]["name"] == "add"
    # the model saw the system prompt, the tools, and the tool results paired with their calls
    last = llm.script.requests[-1]
    assert last["messages"][0]["role"] == "system" and last["messages"][0]["content"].startswith("You are Henry.")
    assert {t["function"]["name"] for t in last["tools"]} >= {
        "add",
        "get_current_time_utc",
        "get_current_time",
    }
    assert last["messages"][2]["tool_calls"][0]["id"] == last["messages"][3]["tool_call_id"]


async def test_streamed_frames(llm: ScriptedLLM) -> None:
    llm.script.when("stream please", Reply(tool_calls=[("add", {"a": 1, "b": 1})]))
    llm.script.when("2", Reply(text="one plus one is two"))
    frames = await ask(make_agent(), "stream please", stream=True)
    assert all(f["type"] == "streamed_conversation_snippet" for f in frames)
    assert [f["part_nb"] for f in frames] == list(range(len(frames)))
    assert frames[-1]["finished"] and frames[-1]["snippet"]["messages"] == []
    messages = [m for f in frames for m in f["snippet"]["messages"]]
    assert messages[0]["tool_calls"][0]["function"]["name"] == "add"
    assert messages[1] == {**messages[1], "role": "tool", "content": {"text": "2", "type": "text"}}
    deltas = [m["content"]["text"] for m in messages[2:]]
    assert len(deltas) > 1 and "".join(deltas) == "one plus one is two"


async def test_conversations_run_in_parallel(llm: ScriptedLLM) -> None:
    llm.script.default = Reply(text="slow", delay=0.6)
    agent = make_agent()
    start = time.monotonic()
    results = await asyncio.gather(*(ask(agent, f"hello {i}", conversation=f"c{i}") for i in range(5)))
    assert time.monotonic() - start < 1.5  # five 0.6 s answers, not one after another
    assert all(r[0]["messages"][-1]["content"]["text"] == "slow" for r in results)


async def test_messages_in_one_conversation_run_in_order(llm: ScriptedLLM) -> None:
    llm.script.responder = lambda body: Reply(text="re: " + body["messages"][-1]["content"])
    agent = make_agent()
    first, second = await asyncio.gather(ask(agent, "first"), ask(agent, "second"))
    assert first[0]["messages"][-1]["content"]["text"] == "re: first"
    assert second[0]["messages"][-1]["content"]["text"] == "re: second"
    history = [(m.role, m.text) for m in await agent.memory.get_messages("", "c1")]
    assert history == [
        ("user", "first"),
        ("assistant", "re: first"),
        ("user", "second"),
        ("assistant", "re: second"),
    ]


async def test_new_message_interrupts_active_run(llm: ScriptedLLM) -> None:
    llm.script.when("long task", Reply(text="too late", delay=2))
    llm.script.when("stop that", Reply(text="stopped"))
    agent = make_agent()
    first = asyncio.create_task(ask(agent, "long task"))
    await asyncio.sleep(0.3)
    second = await ask(agent, "stop that")
    assert (await first)[0]["messages"][-1]["content"]["text"] == INTERRUPTED_TEXT
    assert second[0]["messages"][-1]["content"]["text"] == "stopped"
    texts = [m.text for m in await agent.memory.get_messages("", "c1")]
    assert texts == ["long task", INTERRUPTED_TEXT, "stop that", "stopped"]


async def test_interrupt_during_tool_keeps_pairs(llm: ScriptedLLM) -> None:
    async def slow_tool() -> str:
        """Take a while."""
        await asyncio.sleep(5)
        return "done"

    llm.script.when("run slow", Reply(tool_calls=[("slow_tool", {})]))
    llm.script.when("never mind", Reply(text="ok"))
    agent = make_agent(tools=[Tool(slow_tool)])
    first = asyncio.create_task(ask(agent, "run slow"))
    await asyncio.sleep(0.3)
    await ask(agent, "never mind")
    assert (await first)[0]["messages"][-1]["content"]["text"] == INTERRUPTED_TEXT
    history = await agent.memory.get_messages("", "c1")
    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert history[2].tool_call_id == history[1].tool_calls[0].id  # type: ignore[index]


async def test_ask_user_pauses_and_next_message_resumes(llm: ScriptedLLM) -> None:
    llm.script.when("book a trip", Reply(tool_calls=[("ask_user_for_input", {"question": "Which city?"})]))
    llm.script.when("Lisbon", Reply(text="Booked Lisbon"))
    agent = make_agent(enable_ask_for_user_input=True)
    frames = await ask(agent, "book a trip", stream=True)
    paused = [m for f in frames for m in f["snippet"]["messages"] if m.get("phase") == "waiting_for_input"]
    assert paused and paused[0]["content"]["text"] == "Which city?" and frames[-1]["finished"]
    state = await agent.conversation_state("", "c1")
    assert state["is_paused"] and state["phase"] == "waiting_for_input"
    [answer] = await ask(agent, "Lisbon")
    assert answer["messages"][-1]["content"]["text"] == "Booked Lisbon"
    tool_message = llm.script.requests[-1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "Lisbon"
    assert not (await agent.conversation_state("", "c1"))["is_paused"]


async def test_max_iterations_stops_a_looping_model(llm: ScriptedLLM) -> None:
    llm.script.default = Reply(tool_calls=[("add", {"a": 1, "b": 1})])
    [frame] = await ask(make_agent(max_iterations=3), "loop")
    assert "max_iterations (3)" in frame["messages"][-1]["content"]["text"]
    assert len(llm.script.requests) == 3


async def test_max_execution_time_stops_a_slow_run(llm: ScriptedLLM) -> None:
    llm.script.default = Reply(text="late", delay=3)
    start = time.monotonic()
    [frame] = await ask(make_agent(max_execution_time=0.5), "hurry")
    assert "max_execution_time" in frame["messages"][-1]["content"]["text"]
    assert time.monotonic() - start < 2


async def test_unknown_tool_and_bad_arguments_go_back_to_the_model(llm: ScriptedLLM) -> None:
    llm.script.when("try", Reply(tool_calls=[("nope", {}), ("add", {"a": "x"})]))
    llm.script.default = Reply(text="recovered")
    [frame] = await ask(make_agent(), "try")
    tool_texts = [m["content"]["text"] for m in frame["messages"] if m["role"] == "tool"]
    assert "unknown tool 'nope'" in tool_texts[0] and "a: Input should be a valid integer" in tool_texts[1]
    assert frame["messages"][-1]["content"]["text"] == "recovered"


async def test_model_error_is_reported_not_raised(llm: ScriptedLLM) -> None:
    llm.script.default = Reply(status=401)
    frames = await ask(make_agent(), "hi")
    assert frames[-1]["type"] == "error" and "OPENAI_API_KEY" in frames[-1]["message"]
    llm.script.default = Reply(text="back")
    assert (await ask(make_agent(), "hi"))[0]["messages"][-1]["content"]["text"] == "back"


def test_bad_settings_name_the_field() -> None:
    import pytest

    with pytest.raises(ValueError, match="max_iterations"):
        AgentSettings(
            name="a", instructions="x", model=Model("gpt-test", base_url="http://x"), max_iterations=0
        ).check()
    with pytest.raises(ValueError, match="letters, digits"):
        AgentSettings(name="a b", instructions="x", model=Model("gpt-test", base_url="http://x")).check()
    assert json.dumps({"ok": True})


async def test_a_full_conversation_queue_refuses_instead_of_growing(llm: ScriptedLLM) -> None:
    llm.script.default = Reply(text="slow", delay=1)
    agent = make_agent(max_queued_per_conversation=2)
    frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    accepted = [agent.submit("", "c", Request([user(f"m{i}")], frames.put)) for i in range(4)]
    assert accepted == [True, True, False, False]
    await agent.stop()


async def test_context_summary_folds_old_messages_in_the_background(llm: ScriptedLLM) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if body["messages"][0]["content"].startswith("Summarize"):
            return Reply(text=f"SUMMARY of {body['messages'][1]['content'].count('user:')} user turns")
        return Reply(text="answer " + str(body["messages"][-1]["content"]))

    llm.script.responder = respond
    agent = make_agent(context_summary={"floor": 2, "ceiling": 4})
    for i in range(3):
        await ask(agent, f"turn {i}")  # 6 messages > ceiling 4: fold all but the last 2
    await asyncio.sleep(0.3)  # the summary is made beside the conversation
    await ask(agent, "turn 3")
    last = llm.script.requests[-1]["messages"]
    assert "SUMMARY of 2 user turns" in last[0]["content"]
    assert [m["content"] for m in last[1:]] == ["turn 2", "answer turn 2", "turn 3"]
    summaries = [r for r in llm.script.requests if r["messages"][0]["content"].startswith("Summarize")]
    assert len(summaries) == 1 and summaries[0]["max_tokens"] == 2048


def test_bad_context_summary_is_explained() -> None:
    import pytest

    from autonomy.agents.summary import SummaryConfig

    with pytest.raises(ValueError, match="floor < ceiling"):
        SummaryConfig.from_option({"floor": 5, "ceiling": 5})
    with pytest.raises(ValueError, match="unknown keys"):
        SummaryConfig.from_option({"celing": 5})


async def test_idle_conversations_leave_the_process_only_when_stored(llm: ScriptedLLM, tmp_path: Any) -> None:
    from autonomy.agents.store import SqliteStore

    llm.script.responder = lambda body: Reply(text=f"{len(body['messages'])} in context")
    store = SqliteStore(tmp_path / "m.sqlite")
    settings = AgentSettings(name="e", instructions="x", model=Model("gpt-test"), max_idle_conversations_in_process=2)
    agent = AgentCore(settings, Memory("e", store=store))
    for i in range(5):
        await ask(agent, f"hello {i}", conversation=f"c{i}")
    assert len(agent.conversations) <= 2 and ("", "c4") in agent.conversations
    [again] = await ask(agent, "back", conversation="c0")  # evicted, reloaded from the store
    assert again["messages"][-1]["content"]["text"] == "4 in context"
    store.close()

    unbounded = make_agent(max_idle_conversations_in_process=2)  # no store: nothing may be lost
    for i in range(4):
        await ask(unbounded, f"hello {i}", conversation=f"c{i}")
    assert len(unbounded.conversations) == 4
