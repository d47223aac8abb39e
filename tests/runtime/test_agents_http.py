"""Agents over HTTP in a real node process, driven by the scripted OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.scripted_llm import Reply, ScriptedLLM

from .conftest import NodeProcess

AGENT_MAIN = Path(__file__).with_name("agent_node_main.py")
SPECS = [
    {
        "name": "henry",
        "instructions": "You are Henry.",
        "tools": ["add", "slow"],
        "exposed_as": "Henry adds numbers",
        "enable_ask_for_user_input": True,
    },
    {"name": "limited", "instructions": "Loop.", "tools": ["add"], "max_iterations": 2},
]


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def agent_node(llm: ScriptedLLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    registry = tmp_path_factory.mktemp("registry")
    env = {
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "test",
        "AGENT_SPECS": json.dumps(SPECS),
        "AUTONOMY_DISCOVERY": "none",
        "AUTONOMY_MAX_REQUEST_BYTES": "100000",
    }
    node = NodeProcess("agents-node", "main-pod", registry, extra_env=env, script=AGENT_MAIN).start()
    yield node
    if node.alive():
        node.terminate()
    if node.process is not None and node.process.stdout is not None:
        node.process.stdout.close()


@pytest.fixture
def script(llm: ScriptedLLM) -> Any:
    llm.script.__init__()  # type: ignore[misc]
    return llm.script


@pytest.fixture
async def http(agent_node: NodeProcess) -> Any:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{agent_node.http_port}", timeout=30) as client:
        yield client


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_list_and_get_agents(http: httpx.AsyncClient) -> None:
    agents = (await http.get("/agents")).json()["agents"]
    henry = next(a for a in agents if a["name"] == "henry")
    assert henry == {**henry, "is_remote": False, "description": "Henry adds numbers"}
    assert (await http.get("/agents/henry")).json()["name"] == "henry"
    missing = await http.get("/agents/nobody")
    assert missing.status_code == 404 and missing.json() == {"detail": "Agent 'nobody' not found"}


async def test_tools_lists_exposed_agents(http: httpx.AsyncClient) -> None:
    tools = (await http.get("/tools")).json()
    assert tools == [{"name": "henry", "description": "Henry adds numbers", "input_schema": tools[0]["input_schema"]}]
    assert (await http.get("/tools/henry")).json()["name"] == "henry"
    assert (await http.get("/tools/limited")).status_code == 404


async def test_multi_step_tool_calling(http: httpx.AsyncClient, script: Any) -> None:
    script.when("what is 20+22", Reply(tool_calls=[("add", {"a": 20, "b": 22})]))
    script.when("42", Reply(text="It is 42."))
    response = await http.post("/agents/henry", json={"message": "what is 20+22", "conversation": "math"})
    assert response.status_code == 200
    messages = response.json()
    assert [m["role"] for m in messages] == ["assistant", "tool", "assistant"]
    assert messages[1]["content"]["text"] == "42" and messages[-1]["content"]["text"] == "It is 42."


async def test_streaming_ndjson(http: httpx.AsyncClient, script: Any) -> None:
    script.when("stream 1+1", Reply(tool_calls=[("add", {"a": 1, "b": 1})]))
    script.when("2", Reply(text="one and one make two"))
    response = await http.post("/agents/henry?stream=true", json={"message": "stream 1+1", "conversation": "s1"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    lines = ndjson(response.text)
    assert all(line["type"] == "conversation_snippet" and line["conversation"] == "s1" for line in lines)
    messages = [m for line in lines for m in line["messages"]]
    assert messages[0]["tool_calls"][0]["function"]["name"] == "add"
    assert messages[1]["role"] == "tool" and messages[1]["content"]["text"] == "2"
    deltas = [m["content"]["text"] for m in messages[2:]]
    assert len(deltas) == 5 and "".join(deltas) == "one and one make two"
    assert lines[-1]["messages"] == []


async def test_conversations_in_parallel_and_in_order(http: httpx.AsyncClient, script: Any) -> None:
    script.responder = lambda body: Reply(text="re: " + body["messages"][-1]["content"], delay=0.5)
    start = time.monotonic()
    replies = await asyncio.gather(
        *(http.post("/agents/henry", json={"message": f"p{i}", "conversation": f"par-{i}"}) for i in range(8))
    )
    assert time.monotonic() - start < 2.5  # eight 0.5 s answers overlap
    assert [r.json()[-1]["content"]["text"] for r in replies] == [f"re: p{i}" for i in range(8)]

    script.responder = lambda body: Reply(text="re: " + body["messages"][-1]["content"])
    await http.post("/agents/henry", json={"message": "one", "conversation": "ordered"})
    await http.post("/agents/henry", json={"message": "two", "conversation": "ordered"})
    history = (await http.get("/agents/henry/scopes/_/conversations/ordered")).json()
    assert history["conversations"] == []  # scope "_" is another scope: nothing there
    everything = (await http.get("/agents/henry/conversations")).json()
    ordered = next(c for c in everything["conversations"] if c["conversation"] == "ordered")
    assert [m["content"]["text"] for m in ordered["messages"]] == ["one", "re: one", "two", "re: two"]


async def test_scopes_are_isolated(http: httpx.AsyncClient, script: Any) -> None:
    script.responder = lambda body: Reply(text=f"seen {len(body['messages'])}")
    await http.post("/agents/henry", json={"message": "a", "scope": "alice", "conversation": "c"})
    second = await http.post("/agents/henry", json={"message": "b", "scope": "bob", "conversation": "c"})
    assert second.json()[-1]["content"]["text"] == "seen 2"  # system + bob's message only
    alice = (await http.get("/agents/henry/scopes/alice/conversations/c")).json()
    assert [m["content"]["text"] for m in alice["conversations"][0]["messages"]] == ["a", "seen 2"]


async def test_new_message_interrupts(http: httpx.AsyncClient, script: Any) -> None:
    script.when("long job", Reply(text="finished", delay=3))
    script.when("cancel it", Reply(text="cancelled"))
    first = asyncio.create_task(http.post("/agents/henry", json={"message": "long job", "conversation": "int"}))
    await asyncio.sleep(0.5)
    second = await http.post("/agents/henry", json={"message": "cancel it", "conversation": "int"})
    assert (await first).json()[-1]["content"]["text"] == "Agent was interrupted by new message"
    assert second.json()[-1]["content"]["text"] == "cancelled"


async def test_pause_and_resume(http: httpx.AsyncClient, script: Any) -> None:
    script.when("plan a trip", Reply(tool_calls=[("ask_user_for_input", {"question": "Where to?"})]))
    script.when("Kyoto", Reply(text="Trip to Kyoto planned"))
    body = {"message": "plan a trip", "scope": "u1", "conversation": "trip"}
    lines = ndjson((await http.post("/agents/henry?stream=true", json=body)).text)
    waiting = [m for line in lines for m in line["messages"] if m.get("phase") == "waiting_for_input"]
    assert waiting and waiting[0]["content"]["text"] == "Where to?"
    resumed = await http.post("/agents/henry", json={**body, "message": "Kyoto"})
    assert resumed.json()[-1]["content"]["text"] == "Trip to Kyoto planned"


async def test_limits(http: httpx.AsyncClient, script: Any) -> None:
    script.default = Reply(tool_calls=[("add", {"a": 1, "b": 2})])
    looped = await http.post("/agents/limited", json={"message": "loop forever"})
    assert "max_iterations (2)" in looped.json()[-1]["content"]["text"]
    script.default = Reply(text="slow answer", delay=3)
    timed_out = await http.post("/agents/henry?timeout=1", json={"message": "be slow", "conversation": "t"})
    assert timed_out.status_code == 504 and "within 1.0s" in timed_out.json()["detail"]


async def test_bad_input_is_4xx_with_a_clear_body(http: httpx.AsyncClient) -> None:
    missing = await http.post("/agents/henry", json={"conversation": "x"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["field"] == "message"
    wrong = await http.post("/agents/henry", json={"message": "hi", "conversation": 5})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["field"] == "conversation"
    not_json = await http.post("/agents/henry", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["detail"]
    array = await http.post("/agents/henry", json=["hi"])
    assert array.status_code == 422
    huge = await http.post("/agents/henry", json={"message": "x" * 200_000})
    assert huge.status_code == 413 and "AUTONOMY_MAX_REQUEST_BYTES" in huge.json()["detail"]
    unknown = await http.post("/agents/nobody", json={"message": "hi"})
    assert unknown.status_code == 404
    bad_query = await http.post("/agents/henry?timeout=abc", json={"message": "hi"})
    assert bad_query.status_code == 422


async def test_model_failure_is_a_clear_502(http: httpx.AsyncClient, script: Any) -> None:
    script.default = Reply(status=401)
    response = await http.post("/agents/henry", json={"message": "hi", "conversation": "err"})
    assert response.status_code == 502 and "OPENAI_API_KEY" in response.json()["detail"]


async def test_overload_answers_503_with_retry_after(llm: ScriptedLLM, script: Any, tmp_path: Path) -> None:
    env = {
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "test",
        "AUTONOMY_DISCOVERY": "none",
        "AGENT_SPECS": json.dumps([{"name": "busy", "instructions": "x"}]),
        "AUTONOMY_MAX_AGENT_REQUESTS": "3",
    }
    node = NodeProcess("busy-node", "main-pod", tmp_path, extra_env=env, script=AGENT_MAIN).start()
    try:
        script.default = Reply(text="done", delay=1.5)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=30) as client:
            calls = [
                client.post(
                    "/agents/busy" + ("?stream=true" if i % 2 else ""), json={"message": "hi", "conversation": f"{i}"}
                )
                for i in range(8)
            ]
            responses = await asyncio.gather(*calls)
            statuses = sorted(r.status_code for r in responses)
            assert statuses.count(200) == 3 and statuses.count(503) == 5
            refused = next(r for r in responses if r.status_code == 503)
            assert refused.headers["retry-after"] == "1" and "in flight" in refused.json()["detail"]
            # the slots come back once the requests are done, streamed ones included
            script.default = Reply(text="again")
            again = await asyncio.gather(*(client.post("/agents/busy", json={"message": "hi"}) for _ in range(3)))
            assert [r.status_code for r in again] == [200, 200, 200]
    finally:
        node.terminate()
        if node.process is not None and node.process.stdout is not None:
            node.process.stdout.close()


async def test_lone_surrogates_are_400_and_poison_nothing(http: httpx.AsyncClient, script: Any) -> None:
    for body in (
        b'{"message": "hi \\ud800", "conversation": "sur"}',
        b'{"message": "hi", "scope": "\\udfff", "conversation": "sur"}',
        b'{"message": "hi", "conversation": "sur\\ud800"}',
        b'{"message": [{"role": "user", "content": "\\ud83d"}], "conversation": "sur"}',
        b'{"message": "hi", "conversation": "sur", "\\ud800": 1}',
        '{"message": "caf\u00e9 \udc80", "conversation": "sur"}'.encode("utf-8", "surrogatepass"),
    ):
        refused = await http.post("/agents/henry", content=body, headers={"content-type": "application/json"})
        assert refused.status_code == 400, body
        assert "surrogate" in refused.json()["detail"] or "UTF-8" in refused.json()["detail"]
    headers = {"content-type": "application/json"}
    not_utf8 = await http.post("/agents/henry", content=b'{"message": "\xff"}', headers=headers)
    assert not_utf8.status_code == 400 and "UTF-8" in not_utf8.json()["detail"]
    assert (await http.get("/agents/henry/conversations")).status_code == 200
    script.default = Reply(text="fine")
    after = await http.post("/agents/henry", json={"message": "hi \U0001f600", "conversation": "sur"})
    assert after.status_code == 200 and after.json()[-1]["content"]["text"] == "fine"
    assert (await http.get("/agents/henry/conversations")).status_code == 200


async def test_junk_messages_and_deep_nesting_are_4xx(http: httpx.AsyncClient) -> None:
    for message in ([1, 2], [[]], [None], [{"role": "wizard"}], {"role": "user", "content": 5}, [{"content": []}]):
        refused = await http.post("/agents/henry", json={"message": message, "conversation": "junk"})
        assert refused.status_code == 422, message
        assert refused.json()["detail"][0]["field"].startswith("message"), refused.json()
    for depth in (100, 40_000):
        deep = b'{"message": ' + b"[" * depth + b"]" * depth + b"}"
        refused = await http.post("/agents/henry", content=deep, headers={"content-type": "application/json"})
        assert refused.status_code == 400 and "deeper than" in refused.json()["detail"]
    assert (await http.get("/healthz")).status_code == 200


async def test_openapi_describes_the_agent_call(http: httpx.AsyncClient, script: Any) -> None:
    document = (await http.get("/openapi.json")).json()
    call = document["paths"]["/agents/{name}"]["post"]
    body = call["requestBody"]["content"]["application/json"]["schema"]
    assert {"message", "scope", "conversation"} <= set(body["properties"]) and body["required"] == ["message"]
    assert {"400", "404", "413", "422", "503"} <= set(call["responses"])
    assert "application/x-ndjson" in call["responses"]["200"]["content"]
    script.default = Reply(text="streamed")
    streamed = await http.post("/agents/henry?stream=true", json={"message": "hi", "conversation": "nd"},
                               headers={"accept": "application/x-ndjson"})
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("application/x-ndjson")
    assert ndjson(streamed.text)[0]["type"] == "conversation_snippet"
