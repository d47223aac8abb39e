from __future__ import annotations

from pathlib import Path

from autonomy.agents.memory import Memory
from autonomy.agents.messages import FunctionCall, ToolCallMessage, assistant, chat_message, tool_result, user
from autonomy.agents.store import SqliteStore


def call(i: int) -> ToolCallMessage:
    return ToolCallMessage(id=f"t{i}", function=FunctionCall(name="add"))


async def test_trim_by_count_keeps_tool_pairs() -> None:
    for limit, expected in ((4, ["assistant", "tool", "tool", "assistant"]), (3, ["assistant"])):
        memory = Memory("a", max_messages=limit, max_tokens=None)
        await memory.add_messages("s", "c", [user("q"), assistant("", [call(1), call(2)])])
        await memory.add_messages("s", "c", [tool_result("t1", "add", "1"), tool_result("t2", "add", "2")])
        await memory.add_message("s", "c", assistant("done"))
        # with 3, dropping the call would orphan its results, so they go too (and never lead the history)
        assert [m.role for m in await memory.get_messages("s", "c")] == expected


async def test_trim_by_tokens() -> None:
    memory = Memory("a", max_messages=None, max_tokens=100)
    for i in range(10):
        await memory.add_message("s", "c", user(f"{i}" + "x" * 200))
    history = await memory.get_messages("s", "c")
    assert len(history) == 1 and history[0].text.startswith("9")


async def test_isolation_by_scope_and_conversation() -> None:
    memory = Memory("a")
    await memory.add_message("alice", "c1", user("alice's"))
    await memory.add_message("bob", "c1", user("bob's"))
    assert [m.text for m in await memory.get_messages("alice", "c1")] == ["alice's"]
    assert await memory.get_messages("alice", "c2") == []


async def test_long_term_memory_survives_a_new_process_state(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "memory.sqlite")
    first = Memory("henry", store=store)
    await first.add_messages("s", "c", [user("remember 7"), assistant("noted")])
    await Memory("other", store=store).add_message("s", "c", user("not henry's"))
    store.close()

    reopened = SqliteStore(tmp_path / "memory.sqlite")
    second = Memory("henry", store=reopened, max_messages=10)
    assert [m.text for m in await second.get_messages("s", "c")] == ["remember 7", "noted"]
    await second.add_message("s", "c", user("more"))
    assert [m.text for m in await second.get_all_messages("s", "c")] == ["remember 7", "noted", "more"]
    conversations = await second.conversations()
    assert [(c["scope"], c["conversation"], len(c["messages"])) for c in conversations] == [("s", "c", 3)]
    await second.delete_conversation("s", "c")
    assert await Memory("henry", store=reopened).get_messages("s", "c") == []
    reopened.close()


async def test_context_is_what_the_messages_say_to_a_model() -> None:
    """The hot path (`chat_message` of the stored dicts) must give the model exactly `to_model()` of each message."""
    memory = Memory("a")
    messages = [
        user("q"),
        assistant("thinking aloud", [call(1), call(2)]),
        tool_result("t1", "add", "1"),
        tool_result("t2", "", "2"),
        assistant("done"),
    ]
    await memory.add_messages("s", "c", messages)
    assert [chat_message(m) for m in await memory.get_stored("s", "c")] == [m.to_model() for m in messages]
    assert [m.to_model() for m in await memory.get_messages("s", "c")] == [m.to_model() for m in messages]
    assert await memory.get_message_count("s", "c") == 5


async def test_idle_history_is_invisible_to_the_garbage_collector() -> None:
    """Ten thousand idle conversations must not lengthen every full collection: their messages are flat
    dicts of strings, which CPython never tracks."""
    import gc

    memory = Memory("a")
    for i in range(200):
        await memory.add_messages("s", f"c{i}", [user(f"hello {i}"), assistant(f"hi {i}")])
    gc.collect()
    stored = [m for i in range(200) for m in await memory.get_stored("s", f"c{i}")]
    assert len(stored) == 400
    tracked = sum(gc.is_tracked(m) for m in stored)
    assert tracked == 0, f"{tracked} of 400 stored messages are still tracked by the GC"
