"""The `Store` contract, held by SQLite and PostgreSQL alike: what agents' long-term memory relies on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from autonomy.agents.store import Store
from tests.storage.conftest import Backend


def msgs(*texts: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": {"text": t, "type": "text"}} for t in texts]


def texts(rows: list[dict[str, Any]]) -> list[str]:
    return [r["content"]["text"] for r in rows]


async def test_append_then_load_all_or_the_last_n_oldest_first(store: Store) -> None:
    await store.append("agent", "s", "c", msgs("1", "2", "3"))
    await store.append("agent", "s", "c", msgs("4"))
    await store.append("agent", "s", "c", msgs("5", "6"))
    assert texts(await store.load("agent", "s", "c", None)) == ["1", "2", "3", "4", "5", "6"]
    assert texts(await store.load("agent", "s", "c", 4)) == ["3", "4", "5", "6"]
    assert texts(await store.load("agent", "s", "c", 1)) == ["6"]
    assert texts(await store.load("agent", "s", "c", 100)) == ["1", "2", "3", "4", "5", "6"]
    assert await store.load("agent", "s", "c", 0) == []
    assert await store.load("agent", "s", "unknown", None) == []


async def test_an_empty_append_writes_nothing(store: Store) -> None:
    await store.append("agent", "s", "c", [])
    assert await store.load("agent", "s", "c", None) == []
    assert await store.conversations("agent", None) == []


async def test_conversations_are_listed_once_per_scope(store: Store) -> None:
    await store.append("agent", "alice", "c1", msgs("a"))
    await store.append("agent", "alice", "c1", msgs("b"))
    await store.append("agent", "alice", "c2", msgs("c"))
    await store.append("agent", "bob", "c1", msgs("d"))
    await store.append("agent", "", "", msgs("e"))  # the default scope and conversation are empty strings
    assert sorted(await store.conversations("agent", None)) == [
        ("", ""),
        ("alice", "c1"),
        ("alice", "c2"),
        ("bob", "c1"),
    ]
    assert sorted(await store.conversations("agent", "alice")) == [("alice", "c1"), ("alice", "c2")]
    assert await store.conversations("agent", "nobody") == []


async def test_delete_removes_one_conversation_only(store: Store) -> None:
    await store.append("agent", "alice", "c1", msgs("a", "b"))
    await store.append("agent", "alice", "c2", msgs("c"))
    await store.append("agent", "bob", "c1", msgs("d"))
    await store.append("other", "alice", "c1", msgs("e"))
    await store.delete("agent", "alice", "c1")
    assert await store.load("agent", "alice", "c1", None) == []
    assert sorted(await store.conversations("agent", None)) == [("alice", "c2"), ("bob", "c1")]
    assert texts(await store.load("other", "alice", "c1", None)) == ["e"]
    await store.delete("agent", "alice", "never-was")  # not an error
    await store.append("agent", "alice", "c1", msgs("again"))  # a deleted conversation starts afresh
    assert texts(await store.load("agent", "alice", "c1", None)) == ["again"]


async def test_tenants_and_scopes_never_see_each_other(store: Store) -> None:
    await store.append("henry", "alice", "c", msgs("henry-alice"))
    await store.append("henry", "bob", "c", msgs("henry-bob"))
    await store.append("otto", "alice", "c", msgs("otto-alice"))
    assert texts(await store.load("henry", "alice", "c", None)) == ["henry-alice"]
    assert texts(await store.load("henry", "bob", "c", None)) == ["henry-bob"]
    assert texts(await store.load("otto", "alice", "c", None)) == ["otto-alice"]
    assert await store.conversations("otto", None) == [("alice", "c")]
    assert await store.conversations("nobody", None) == []
    # names that look alike once joined stay apart
    await store.append("a", "b_c", "d", msgs("1"))
    await store.append("a", "b", "c_d", msgs("2"))
    assert texts(await store.load("a", "b_c", "d", None)) == ["1"]


async def test_messages_come_back_exactly_unicode_and_large_ones_too(store: Store) -> None:
    odd = [
        "héllo wörld — ünïcödé",
        "日本語のテキスト, 中文, 한국어",
        "emoji 🧠🤖👩‍👩‍👧‍👦 and flags 🇫🇷",
        "right-to-left: مرحبا שלום",
        "combining e\u0301 and zero\u200bwidth",
        "a NUL \x00 inside, quotes ' \" and a backslash \\",
        "a lone surrogate \ud800 (json escapes it)",
        "",
    ]
    large = "x" * 2_000_000 + "🧠" * 100_000  # ~2.4 MB in one message
    nested = {
        "role": "assistant",
        "content": {"text": "t", "type": "text"},
        "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": '{"a": [1, 2.5, null, true]}'}}],
        "meta": {"n": 2**53, "f": 0.1, "list": [[], {}, None]},
    }
    await store.append("agent", "sçöpe 🌍", "conversación", [*msgs(*odd), nested])
    await store.append("agent", "sçöpe 🌍", "conversación", msgs(large))
    loaded = await store.load("agent", "sçöpe 🌍", "conversación", None)
    assert texts(loaded[: len(odd)]) == odd
    assert loaded[len(odd)] == nested
    assert texts(loaded[-1:]) == [large]
    assert await store.conversations("agent", "sçöpe 🌍") == [("sçöpe 🌍", "conversación")]


async def test_a_large_batch_is_written_whole_and_in_order(store: Store) -> None:
    batch = msgs(*(f"m{i}" for i in range(5000)))
    await store.append("agent", "s", "c", batch)
    assert texts(await store.load("agent", "s", "c", None)) == [f"m{i}" for i in range(5000)]
    assert texts(await store.load("agent", "s", "c", 3)) == ["m4997", "m4998", "m4999"]


async def test_many_concurrent_appends_lose_nothing_and_keep_each_conversations_order(store: Store) -> None:
    writers, appends = 40, 15

    async def own_conversation(w: int) -> None:
        for i in range(appends):
            await store.append("agent", "s", f"own-{w}", msgs(f"{w}:{i}"))

    async def shared_conversation(w: int) -> None:
        for i in range(appends):
            await store.append("agent", "s", "shared", msgs(f"{w}:{i}:a", f"{w}:{i}:b", f"{w}:{i}:c"))

    await asyncio.gather(*(own_conversation(w) for w in range(writers)), *(shared_conversation(w) for w in range(10)))
    for w in range(writers):
        assert texts(await store.load("agent", "s", f"own-{w}", None)) == [f"{w}:{i}" for i in range(appends)]
    shared = texts(await store.load("agent", "s", "shared", None))
    assert len(shared) == 10 * appends * 3 and len(set(shared)) == len(shared)
    # each append's messages stay together and in order ...
    for start in range(0, len(shared), 3):
        stem = shared[start][: -len(":a")]
        assert shared[start : start + 3] == [f"{stem}:a", f"{stem}:b", f"{stem}:c"]
    # ... and each writer's appends come in the order it made them
    for w in range(10):
        mine = [t for t in shared[::3] if t.startswith(f"{w}:")]
        assert mine == [f"{w}:{i}:a" for i in range(appends)]
    assert len(await store.conversations("agent", "s")) == writers + 1


async def test_a_waiting_database_call_does_not_stall_the_event_loop(backend: Backend, store: Store) -> None:
    await store.append("agent", "s", "c", msgs("before"))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        with backend.write_lock():
            writing = asyncio.create_task(store.append("agent", "s", "c", msgs("after")))
            started = time.monotonic()
            await asyncio.sleep(0.5)
            # the write waits on the other connection's lock, and meanwhile the loop runs on
            assert not writing.done()
            assert ticks >= 15, f"only {ticks} ticks of 10 ms in {time.monotonic() - started:.2f} s"
        await asyncio.wait_for(writing, 10)
    finally:
        ticking.cancel()
        await asyncio.gather(ticking, return_exceptions=True)
    assert texts(await store.load("agent", "s", "c", None)) == ["before", "after"]


async def test_a_new_store_on_the_same_database_sees_everything(backend: Backend) -> None:
    first = backend.open()
    await first.append("agent", "s", "c", msgs("1", "2"))
    await first.append("agent", "s", "d", msgs("3"))
    second = backend.open()  # the schema exists already: making it again is a no-op
    assert texts(await second.load("agent", "s", "c", None)) == ["1", "2"]
    await second.append("agent", "s", "c", msgs("4"))
    assert texts(await first.load("agent", "s", "c", None)) == ["1", "2", "4"]
    assert sorted(await second.conversations("agent", None)) == [("s", "c"), ("s", "d")]
