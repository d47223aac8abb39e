"""Chat over any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, LiteLLM, OpenRouter) with the `openai` SDK.

Clients are shared per (base URL, key, timeouts): one connection pool per endpoint, not one per agent,
because thousands of agents each holding a pool leak memory and sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai

from autonomy.models.clients import connection_limits, shared_client
from autonomy.models.types import ChatMessage, ModelDelta, ToolCallDelta, ToolSpec


def client_for(base_url: str | None, api_key: str | None, request_timeout: float, connect_timeout: float) -> Any:
    return shared_client(
        (__name__, base_url, api_key, request_timeout, connect_timeout),
        lambda: openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,  # Model retries itself, with its own policy and throttle feedback
            timeout=openai.Timeout(request_timeout, connect=connect_timeout),
            # aiohttp under the SDK (its supported alternative transport): httpx's pool checks every idle
            # connection on each request, which made the SDK half of an agent call's CPU at 1,000 in flight
            http_client=openai.DefaultAioHttpClient(
                timeout=openai.Timeout(request_timeout, connect=connect_timeout),
                limits=connection_limits(openai.DEFAULT_CONNECTION_LIMITS),
            ),
        ),
    )


async def open_stream(
    client: Any,
    model: str,
    messages: list[ChatMessage],
    tools: list[ToolSpec] | None,
    options: dict[str, Any],
) -> AsyncIterator[ModelDelta]:
    """Start a streamed completion; errors of the request itself are raised here, before any delta."""
    return _deltas(await _post_stream(client, _stream_body(model, messages, tools, options)))


async def open_chunks(
    client: Any,
    model: str,
    messages: list[ChatMessage],
    tools: list[ToolSpec] | None,
    options: dict[str, Any],
) -> AsyncIterator[dict[str, Any]]:
    """Start a streamed completion whose chunks come as the endpoint sent them (plain dicts)."""
    return _chunks(await _post_stream(client, _stream_body(model, messages, tools, options)))


def _stream_body(
    model: str, messages: list[ChatMessage], tools: list[ToolSpec] | None, options: dict[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {**options, "model": model, "messages": messages, "stream": True}
    if tools:
        body["tools"] = tools
    return body


async def create_completion(
    client: Any,
    model: str,
    messages: list[ChatMessage],
    tools: list[ToolSpec] | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    """One non-streamed completion, the endpoint's JSON as it came (with its usage)."""
    body: dict[str, Any] = {**options, "model": model, "messages": messages}
    body.pop("stream", None)
    if tools:
        body["tools"] = tools
    answer = await client.post("/chat/completions", body=body, cast_to=object)
    if not isinstance(answer, dict):
        raise ValueError(f"the endpoint answered a chat completion with {type(answer).__name__}, not a JSON object")
    return answer


async def _post_stream(client: Any, body: dict[str, Any]) -> Any:
    # The SDK's typed `create()` walks every message and tool spec to transform it (about 10 ms a call
    # with a few tools); our messages are already plain JSON, so post them as they are.
    return await client.post(
        "/chat/completions",
        body=body,
        cast_to=object,  # chunks stay plain dicts: building typed models for each chunk costs more than the call
        stream=True,
        stream_cls=openai.AsyncStream[object],
    )


async def _chunks(stream: Any) -> AsyncIterator[dict[str, Any]]:
    async with stream:
        async for chunk in stream:
            if isinstance(chunk, dict):
                yield chunk


async def _deltas(stream: Any) -> AsyncIterator[ModelDelta]:
    async with _closing(stream):
        async for chunk in stream:
            choices = chunk.get("choices") if isinstance(chunk, dict) else None
            if not choices:
                continue
            choice = choices[0]
            delta = choice.get("delta") or {}
            calls = []
            for i, call in enumerate(delta.get("tool_calls") or []):
                function = call.get("function") or {}
                index = call.get("index")
                calls.append(
                    ToolCallDelta(
                        index=index if isinstance(index, int) else i,
                        id=call.get("id"),
                        name=function.get("name"),
                        arguments=function.get("arguments") or "",
                    )
                )
            yield ModelDelta(
                text=delta.get("content") or "", tool_calls=calls, finish_reason=choice.get("finish_reason")
            )


class _closing:
    """`async with` over the SDK's stream (a context manager) or an async generator (closed at the end)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    async def __aenter__(self) -> Any:
        if hasattr(self.stream, "__aenter__"):
            return await self.stream.__aenter__()
        return self.stream

    async def __aexit__(self, *exc: Any) -> None:
        if hasattr(self.stream, "__aexit__"):
            await self.stream.__aexit__(*exc)
        else:
            await self.stream.aclose()


async def embeddings(client: Any, model: str, texts: list[str], options: dict[str, Any]) -> list[list[float]]:
    result = await client.embeddings.create(model=model, input=texts, **options)
    return [list(item.embedding) for item in result.data]


async def speech_to_text(client: Any, model: str, audio_file: Any, options: dict[str, Any]) -> Any:
    """The SDK's transcription: a `Transcription` (or its verbose/diarized kin), or a str for text formats."""
    return await client.audio.transcriptions.create(model=model, file=audio_file, **options)


async def text_to_speech(client: Any, model: str, text: str, options: dict[str, Any]) -> bytes:
    response = await client.audio.speech.create(model=model, input=text, **options)
    content: bytes = response.content
    return content
