"""OpenAI-shaped answers for apps that call `Model.complete_chat` themselves, as upstream's examples do:
`response.choices[0].message.content`, `response.usage`, `chunk.choices[0].delta.content`.

They are the `openai` SDK's own types (`ChatCompletion`, `ChatCompletionChunk`), whichever provider
answered: an OpenAI-compatible endpoint's JSON is validated as it came, and Anthropic's stream is folded
into the same shapes. Agents do not use these (they read the cheaper `ModelDelta`s).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from autonomy.models.types import ModelDelta, ModelResponse

#: Finish reasons OpenAI's types accept, and what other providers and servers say for them.
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "content_filter": "content_filter",
           "function_call": "function_call", "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
           "tool_use": "tool_calls", "refusal": "content_filter"}


def finish_reason(value: Any) -> str | None:
    """OpenAI's name for a finish reason; one it has no name for is "stop" (the answer did end)."""
    return None if value is None else _FINISH.get(str(value), "stop")


def chat_completion(raw: dict[str, Any]) -> ChatCompletion:
    """An endpoint's JSON answer as the SDK's type; fields some servers omit get their usual defaults."""
    data = dict(raw)
    data.setdefault("id", f"chatcmpl-{uuid.uuid4().hex[:12]}")
    data.setdefault("object", "chat.completion")
    data.setdefault("created", int(time.time()))
    data.setdefault("model", "")
    data["choices"] = [
        {"index": i, "finish_reason": "stop", **choice} for i, choice in enumerate(data.get("choices") or [])
    ]
    for choice in data["choices"]:
        choice["finish_reason"] = finish_reason(choice.get("finish_reason")) or "stop"
        choice.setdefault("message", {"role": "assistant", "content": None})
    return ChatCompletion.model_validate(data)


def chat_completion_chunk(raw: dict[str, Any]) -> ChatCompletionChunk:
    data = dict(raw)
    data.setdefault("id", "chatcmpl-stream")
    data.setdefault("object", "chat.completion.chunk")
    data.setdefault("created", int(time.time()))
    data.setdefault("model", "")
    data["choices"] = [
        {**choice, "finish_reason": finish_reason(choice.get("finish_reason"))} for choice in data.get("choices") or []
    ]
    return ChatCompletionChunk.model_validate(data)


def completion_of(response: ModelResponse, model: str, usage: dict[str, int] | None = None) -> ChatCompletion:
    """A whole answer folded from a provider's stream (Anthropic) in OpenAI's shape."""
    message: dict[str, Any] = {"role": "assistant", "content": response.text or None}
    if response.tool_calls:
        message["tool_calls"] = [call.to_openai() for call in response.tool_calls]
    finish = response.finish_reason or ("tool_calls" if response.tool_calls else "stop")
    raw: dict[str, Any] = {"model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if usage is not None:
        raw["usage"] = usage
    return chat_completion(raw)


def chunk_of(delta: ModelDelta, model: str, stream_id: str) -> ChatCompletionChunk:
    """One delta of a provider's stream (Anthropic) as OpenAI's chunk."""
    body: dict[str, Any] = {}
    if delta.text:
        body["content"] = delta.text
    if delta.tool_calls:
        body["tool_calls"] = [
            {
                "index": part.index,
                **({"id": part.id, "type": "function"} if part.id else {}),
                "function": {**({"name": part.name} if part.name else {}), "arguments": part.arguments},
            }
            for part in delta.tool_calls
        ]
    return chat_completion_chunk(
        {
            "id": stream_id,
            "model": model,
            "choices": [{"index": 0, "delta": body, "finish_reason": delta.finish_reason}],
        }
    )
