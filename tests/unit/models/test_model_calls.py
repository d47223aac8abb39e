from __future__ import annotations

import json
import time

import pytest

from autonomy.models import Model, ModelRequestError
from tests.support.scripted_llm import Reply, ScriptedLLM


async def test_streamed_text_arrives_in_pieces_and_joins(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(text="the quick brown fox"))
    model = Model("gpt-test")
    pieces = [d.text async for d in model.stream_chat([{"role": "user", "content": "hi"}]) if d.text]
    assert len(pieces) == 4 and "".join(pieces) == "the quick brown fox"
    assert llm.script.requests[0]["model"] == "gpt-test"


async def test_tool_calls_are_joined_from_fragments(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(tool_calls=[("add", {"a": 1, "b": 2}), ("echo", {"text": "x"})]))
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    response = await Model("gpt-test").complete([{"role": "user", "content": "add"}], tools=tools)
    assert [c.name for c in response.tool_calls] == ["add", "echo"]
    assert json.loads(response.tool_calls[0].arguments) == {"a": 1, "b": 2}
    assert llm.script.requests[0]["tools"][0]["function"]["name"] == "add"


async def test_missing_tool_call_ids_are_generated(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(tool_calls=[("add", {})], omit_tool_call_ids=True))
    response = await Model("gpt-test").complete([{"role": "user", "content": "x"}])
    assert response.tool_calls[0].id


async def test_retries_429_then_succeeds(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(status=429, retry_after=0.05), Reply(status=503, retry_after=0.05), Reply(text="fine"))
    response = await Model("gpt-test").complete([{"role": "user", "content": "x"}])
    assert response.text == "fine" and len(llm.script.requests) == 3


async def test_gives_up_after_max_attempts_with_status(llm: ScriptedLLM) -> None:
    llm.script.then(*[Reply(status=500, retry_after=0.01)] * 5)
    model = Model("gpt-test", throttle_max_retry_attempts=2)  # retries after the first attempt, as upstream
    with pytest.raises(ModelRequestError) as caught:
        await model.complete([{"role": "user", "content": "x"}])
    assert caught.value.status == 500 and len(llm.script.requests) == 3


async def test_bad_request_is_not_retried_and_404_names_the_fix(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(status=404))
    with pytest.raises(ModelRequestError, match="BASE_URL"):
        await Model("gpt-test").complete([{"role": "user", "content": "x"}])
    assert len(llm.script.requests) == 1


async def test_401_names_the_key_variable(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(status=401))
    with pytest.raises(ModelRequestError, match="OPENAI_API_KEY"):
        await Model("gpt-test").complete([{"role": "user", "content": "x"}])


async def test_stream_timeout_cuts_a_slow_stream(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(text="a b c d e f", chunk_delay=0.3))
    with pytest.raises(ModelRequestError, match="stream exceeded"):
        await Model("gpt-test", stream_timeout=0.5).complete([{"role": "user", "content": "x"}])


async def test_stream_timeout_also_bounds_a_model_slow_to_start_answering(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(text="late", delay=3))
    began = time.monotonic()
    with pytest.raises(ModelRequestError, match="stream exceeded"):
        await Model("gpt-test", stream_timeout=0.5, request_timeout=30).complete([{"role": "user", "content": "x"}])
    assert time.monotonic() - began < 2


async def test_unreachable_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    from autonomy.models.clients import close_clients

    model = Model("gpt-test", throttle_max_retry_attempts=0, connect_timeout=1)
    with pytest.raises(ModelRequestError, match="cannot reach"):
        await model.complete([{"role": "user", "content": "x"}])
    await close_clients()


async def test_throttled_model_still_answers(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(status=429, retry_after=0.01), Reply(text="ok"))
    model = Model("gpt-test", throttle=True, throttle_requests_per_minute=6000)
    assert (await model.complete([{"role": "user", "content": "x"}])).text == "ok"


async def test_concurrent_calls_per_endpoint_are_capped(llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTONOMY_MODEL_MAX_CONNECTIONS bounds the calls a process has open to one endpoint; the rest wait."""
    import asyncio

    from autonomy.models.clients import close_clients

    monkeypatch.setenv("AUTONOMY_MODEL_MAX_CONNECTIONS", "2")
    llm.script.responder = lambda body: Reply(text="ok", delay=0.3)
    model = Model("gpt-capped")
    began = time.monotonic()
    await asyncio.gather(*(model.complete([{"role": "user", "content": str(i)}]) for i in range(4)))
    elapsed = time.monotonic() - began
    await close_clients()
    assert elapsed >= 0.55, f"4 calls of 0.3 s over 2 connections took {elapsed:.2f} s: the cap did not hold"


def test_default_connection_cap_leaves_file_descriptors_for_the_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured at 10,000 in flight under a 20,000 open-files limit: a pool of 10,000 model connections
    left the node unable to accept callers (EMFILE)."""
    import resource

    from autonomy.models import clients

    monkeypatch.delenv("AUTONOMY_MODEL_MAX_CONNECTIONS", raising=False)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (20_000, 20_000))
    assert clients.max_connections() == (20_000 - 256) // 2
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1_048_576, 1_048_576))
    assert clients.max_connections() == 10_000
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert clients.max_connections() == 10_000


async def test_a_bad_connection_cap_names_the_variable(llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    from autonomy.models import ModelError

    monkeypatch.setenv("AUTONOMY_MODEL_MAX_CONNECTIONS", "lots")
    with pytest.raises(ModelError, match=r"AUTONOMY_MODEL_MAX_CONNECTIONS='lots'.*whole number"):
        await Model("gpt-badcap").complete([{"role": "user", "content": "x"}])
