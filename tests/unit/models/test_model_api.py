"""The Model API as apps call it directly (upstream's `models/model.py`), against the scripted endpoint."""

from __future__ import annotations

import io
import json

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from autonomy import Model, SystemMessage, UserMessage
from autonomy.models import ModelError, ModelRequestError
from tests.support.scripted_llm import Reply, ScriptedLLM, bag_of_words


async def test_complete_chat_is_an_openai_chat_completion(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(text="Paris."))
    response = await Model("gpt-test").complete_chat(
        [SystemMessage("Answer briefly."), UserMessage("Capital of France?")], stream=False
    )
    assert isinstance(response, ChatCompletion)
    assert response.choices[0].message.content == "Paris."
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.total_tokens == 2
    sent = llm.script.requests[0]
    assert not sent.get("stream")  # one non-streamed request, as upstream makes
    assert sent["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Capital of France?"},
    ]


async def test_complete_chat_passes_tools_and_returns_their_calls(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(tool_calls=[("add", {"a": 1, "b": 2})]))
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    response = await Model("gpt-test").complete_chat([{"role": "user", "content": "1+2"}], tools=tools, temperature=0)
    call = response.choices[0].message.tool_calls[0]
    assert call.function.name == "add" and json.loads(call.function.arguments) == {"a": 1, "b": 2}
    assert response.choices[0].finish_reason == "tool_calls"
    sent = llm.script.requests[0]
    assert sent["tools"] == tools and sent["temperature"] == 0


async def test_streamed_complete_chat_is_iterated_directly_and_yields_chunks(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(text="the quick brown fox"))
    model = Model("gpt-test")
    chunks = [c async for c in model.complete_chat([{"role": "user", "content": "hi"}], stream=True)]
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "the quick brown fox"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert llm.script.requests[0]["stream"] is True


async def test_streamed_tool_calls_come_in_fragments_as_openai_sends_them(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(tool_calls=[("echo", {"text": "hello"})]))
    arguments = ""
    name = None
    async for chunk in Model("gpt-test").complete_chat([{"role": "user", "content": "x"}], stream=True):
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name = name or call.function.name
            arguments += call.function.arguments or ""
    assert name == "echo" and json.loads(arguments) == {"text": "hello"}


async def test_awaiting_the_stream_first_still_works(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(text="a b"))
    stream = await Model("gpt-test").complete_chat([{"role": "user", "content": "x"}], stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "a b"


async def test_complete_chat_retries_a_429_then_answers(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(status=429, retry_after=0.01), Reply(text="fine"))
    response = await Model("gpt-test").complete_chat([{"role": "user", "content": "x"}])
    assert response.choices[0].message.content == "fine" and len(llm.script.requests) == 2


async def test_complete_chat_errors_name_the_fix(llm: ScriptedLLM) -> None:
    llm.script.then(Reply(status=401))
    with pytest.raises(ModelRequestError, match="OPENAI_API_KEY"):
        await Model("gpt-test").complete_chat([{"role": "user", "content": "x"}])


async def test_anthropic_answers_in_openai_shape_too(llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    llm.script.then(Reply(text="mapping done"), Reply(text="one two"))
    model = Model("claude-sonnet-4-5")
    assert model.provider == "anthropic"
    response = await model.complete_chat([{"role": "user", "content": "map"}], stream=False)
    assert response.choices[0].message.content == "mapping done"
    pieces = [c.choices[0].delta.content async for c in model.complete_chat([UserMessage("x")], stream=True)]
    assert "".join(p or "" for p in pieces) == "one two"
    with pytest.raises(ModelError, match="OpenAI-compatible"):
        await model.embeddings(["x"])


async def test_embeddings_are_one_vector_per_text(llm: ScriptedLLM) -> None:
    vectors = await Model("text-embedding-3-small").embeddings(["red apples", "green pears"])
    assert vectors == [bag_of_words("red apples"), bag_of_words("green pears")]
    sent = llm.script.embedding_requests[0]
    assert (sent["model"], sent["input"]) == ("text-embedding-3-small", ["red apples", "green pears"])
    with pytest.raises(ModelError, match=r"list of strings"):
        await Model("text-embedding-3-small").embeddings("one text")  # type: ignore[arg-type]


async def test_embeddings_retry_a_503(llm: ScriptedLLM) -> None:
    llm.script.failures.append(Reply(status=503, retry_after=0.01))
    assert len(await Model("emb").embeddings(["x"])) == 1
    assert len(llm.script.embedding_requests) == 2


async def test_speech_to_text_gives_the_text_of_a_file(llm: ScriptedLLM) -> None:
    llm.script.transcript = "hello there"
    audio = io.BytesIO(b"RIFF....WAVEfmt ")
    audio.name = "clip.wav"
    assert await Model("whisper-1").speech_to_text(audio_file=audio, language=None) == "hello there"
    sent = llm.script.transcriptions[0]
    assert sent["model"] == "whisper-1" and sent["file_bytes"] == b"RIFF....WAVEfmt " and "language" not in sent
    assert sent["filename"] == "clip.wav"


async def test_speech_to_text_diarized_is_the_whole_response(llm: ScriptedLLM) -> None:
    llm.script.speakers = [("A", "Hi."), ("B", "Hello.")]
    audio = io.BytesIO(b"audio")
    audio.name = "a.mp3"
    result = await Model("gpt-4o-transcribe-diarize").speech_to_text(
        audio_file=audio, language="en", model="gpt-4o-transcribe-diarize", response_format="diarized_json",
        chunking_strategy="auto",
    )
    assert [(s.speaker, s.text) for s in result.segments] == [("A", "Hi."), ("B", "Hello.")]
    sent = llm.script.transcriptions[0]
    assert (sent["language"], sent["response_format"], sent["chunking_strategy"]) == ("en", "diarized_json", "auto")


async def test_text_to_speech_gives_the_audio_bytes(llm: ScriptedLLM) -> None:
    audio = await Model("tts-1").text_to_speech("Good morning", voice="nova", response_format="wav")
    assert audio == b"wav:nova:Good morning"
    assert llm.script.speeches[0]["model"] == "tts-1"
    assert await Model("gpt-4o-mini-tts").text_to_speech("x", model="tts-1") == b"mp3:alloy:x"
    assert llm.script.speeches[1]["model"] == "tts-1"
