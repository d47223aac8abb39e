"""Chat with Anthropic's Messages API through the `anthropic` SDK, translated to and from the OpenAI-style
messages the agents speak.

The translation: system messages become the `system` parameter; an assistant's `tool_calls` become
`tool_use` blocks; consecutive `tool` messages become one user turn of `tool_result` blocks (Claude requires
every tool_use to be answered in the very next turn, which is why memory keeps the pairs together).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic

from autonomy.models.clients import connection_limits, shared_client
from autonomy.models.types import ChatMessage, ModelDelta, ToolCallDelta, ToolSpec

DEFAULT_MAX_TOKENS = 4096


def client_for(base_url: str | None, api_key: str | None, request_timeout: float, connect_timeout: float) -> Any:
    return shared_client(
        (__name__, base_url, api_key, request_timeout, connect_timeout),
        lambda: anthropic.AsyncAnthropic(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,
            timeout=anthropic.Timeout(request_timeout, connect=connect_timeout),
            # aiohttp under the SDK: its pool costs a fraction of httpx's per request at many in flight
            http_client=anthropic.DefaultAioHttpClient(
                timeout=anthropic.Timeout(request_timeout, connect=connect_timeout),
                limits=connection_limits(anthropic.DEFAULT_CONNECTION_LIMITS),
            ),
        ),
    )


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return "".join(_text_of(part) for part in content)
    return "" if content is None else str(content)


def to_anthropic(messages: list[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """Split OpenAI-style messages into Anthropic's `system` text and `messages` list."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "system":
            system.append(_text_of(message.get("content")))
            continue
        if role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id", ""),
                "content": _text_of(message.get("content")),
            }
            if (
                out
                and out[-1]["role"] == "user"
                and isinstance(out[-1]["content"], list)
                and all(b.get("type") == "tool_result" for b in out[-1]["content"])
            ):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
            continue
        blocks: list[dict[str, Any]] = []
        text = _text_of(message.get("content"))
        if text:
            blocks.append({"type": "text", "text": text})
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except json.JSONDecodeError:
                arguments = {}
            blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": arguments})
        if not blocks:
            blocks.append({"type": "text", "text": "(empty)"})  # Anthropic rejects empty turns
        out.append({"role": "assistant" if role == "assistant" else "user", "content": blocks})
    return "\n\n".join(s for s in system if s), out


def tools_to_anthropic(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "name": t["function"]["name"],
            "description": t["function"].get("description", ""),
            "input_schema": t["function"].get("parameters") or {"type": "object", "properties": {}},
        }
        for t in tools
    ]


async def open_stream(
    client: Any,
    model: str,
    messages: list[ChatMessage],
    tools: list[ToolSpec] | None,
    options: dict[str, Any],
) -> AsyncIterator[ModelDelta]:
    system, converted = to_anthropic(messages)
    kwargs: dict[str, Any] = dict(options)
    kwargs.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    if system:
        kwargs["system"] = system
    if tools:
        kwargs["tools"] = tools_to_anthropic(tools)
    stream = await client.messages.create(model=model, messages=converted, stream=True, **kwargs)
    return _deltas(stream)


async def _deltas(stream: Any) -> AsyncIterator[ModelDelta]:
    async with stream:
        async for event in stream:
            kind = getattr(event, "type", "")
            if kind == "content_block_start" and getattr(event.content_block, "type", "") == "tool_use":
                block = event.content_block
                yield ModelDelta(tool_calls=[ToolCallDelta(index=event.index, id=block.id, name=block.name)])
            elif kind == "content_block_delta":
                delta = event.delta
                if delta.type == "text_delta":
                    yield ModelDelta(text=delta.text)
                elif delta.type == "input_json_delta":
                    yield ModelDelta(tool_calls=[ToolCallDelta(index=event.index, arguments=delta.partial_json)])
            elif kind == "message_delta":
                reason = getattr(event.delta, "stop_reason", None)
                yield ModelDelta(finish_reason="tool_calls" if reason == "tool_use" else reason)
