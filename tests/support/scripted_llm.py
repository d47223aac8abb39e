"""A scripted OpenAI-compatible chat server on loopback: the one stand-in the project allows.

It serves `POST /v1/chat/completions` (streamed and not) from a script of replies, so the real `openai`
SDK and the real agent code run against it. A reply is chosen by the first rule whose `when` text occurs
in the request's last message (user or tool), else the next reply of the default queue, else a fixed text.
Every request is recorded for assertions.

It also serves the other endpoints `Model` calls: `POST /v1/embeddings` (a deterministic bag-of-words
vector per text, or `Script.embed`), `POST /v1/audio/transcriptions` (`Script.transcript`, in the
requested `response_format`, diarized segments from `Script.speakers`) and `POST /v1/audio/speech`
(bytes that spell the request: `b"<format>:<voice>:<input>"`). `Script.failures` answers the next
requests to those with an error status instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering
    chunk_delay: float = 0.0  # seconds between streamed chunks
    status: int = 200  # an error status answers with an error body instead
    retry_after: float | None = None
    omit_tool_call_ids: bool = False


Responder = Callable[[dict[str, Any]], "Reply | None"]


def last_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    if not messages:
        return ""
    content = messages[-1].get("content")
    if isinstance(content, list):  # Anthropic blocks: text, or tool_result with its content
        return " ".join(str(p.get("text", p.get("content", ""))) for p in content if isinstance(p, dict))
    return str(content or "")


class Script:
    def __init__(self) -> None:
        self.rules: list[tuple[str, deque[Reply]]] = []
        self.queue: deque[Reply] = deque()
        self.responder: Responder | None = None
        self.default = Reply(text="ok")
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.embed: Callable[[str], list[float]] = bag_of_words
        self.transcript = "scripted transcript"
        self.speakers: list[tuple[str, str]] = [("A", "scripted"), ("B", "transcript")]
        self.failures: deque[Reply] = deque()  # next answers of the embeddings and audio endpoints
        self.embedding_requests: list[dict[str, Any]] = []
        self.transcriptions: list[dict[str, Any]] = []
        self.speeches: list[dict[str, Any]] = []

    def next_failure(self) -> Reply | None:
        with self.lock:
            return self.failures.popleft() if self.failures else None

    def when(self, text: str, *replies: Reply) -> None:
        with self.lock:
            self.rules.append((text, deque(replies)))

    def then(self, *replies: Reply) -> None:
        with self.lock:
            self.queue.extend(replies)

    def choose(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append(body)
            if self.responder is not None:
                reply = self.responder(body)
                if reply is not None:
                    return reply
            text = last_text(body)
            for needle, replies in self.rules:
                if needle in text and replies:
                    return replies.popleft() if len(replies) > 1 else replies[0]
            if self.queue:
                return self.queue.popleft()
            return self.default


EMBEDDING_DIMENSIONS = 16


def bag_of_words(text: str) -> list[float]:
    """A unit vector of hashed words: texts sharing words are close, the same text gives the same vector."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in text.lower().split():
        digest = hashlib.sha256(word.strip(".,;:!?").encode()).digest()
        vector[digest[0] % EMBEDDING_DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _error(reply: Reply) -> JSONResponse:
    headers = {"retry-after": str(reply.retry_after)} if reply.retry_after is not None else {}
    return JSONResponse({"error": {"message": f"scripted {reply.status}", "type": "scripted"}}, reply.status, headers)


def _calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            **({} if reply.omit_tool_call_ids else {"id": f"call_{uuid.uuid4().hex[:8]}"}),
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]


def build_app(script: Script) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Any:
        body = await request.json()
        reply = script.choose(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            headers = {"retry-after": str(reply.retry_after)} if reply.retry_after is not None else {}
            return JSONResponse(
                {"error": {"message": f"scripted {reply.status}", "type": "scripted"}}, reply.status, headers
            )
        created = int(time.time())
        finish = "tool_calls" if reply.tool_calls else "stop"
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            if reply.tool_calls:
                message["tool_calls"] = _calls(reply)
            return {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": created,
                "model": body.get("model"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }

        def chunk(delta: dict[str, Any], reason: str | None = None) -> str:
            data = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": created,
                "model": body.get("model"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
            }
            return f"data: {json.dumps(data)}\n\n"

        words = reply.text.split(" ") if reply.text else []
        head = [chunk({"role": "assistant", "content": ""})]
        tail: list[str] = []
        for call in _calls(reply):
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2  # split the arguments, as real servers do
            first = {
                **call,
                "function": {"name": call["function"]["name"], "arguments": arguments[:half]},
            }
            tail.append(chunk({"tool_calls": [first]}))
            tail.append(chunk({"tool_calls": [{"index": call["index"], "function": {"arguments": arguments[half:]}}]}))
        tail += [chunk({}, finish), "data: [DONE]\n\n"]
        texts = [chunk({"content": word if i == 0 else " " + word}) for i, word in enumerate(words)]
        if not reply.chunk_delay:
            # the same events in one body: a model that answers at once costs little to stand in for
            return Response("".join(head + texts + tail), media_type="text/event-stream")

        async def events() -> AsyncIterator[str]:
            for part in head:
                yield part
            for text in texts:
                await asyncio.sleep(reply.chunk_delay)
                yield text
            for part in tail:
                yield part

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        body = await request.json()
        script.embedding_requests.append(body)
        failure = script.next_failure()
        if failure is not None:
            return _error(failure)
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        data = [{"object": "embedding", "index": i, "embedding": script.embed(str(t))} for i, t in enumerate(texts)]
        tokens = sum(len(str(t).split()) for t in texts)
        return {"object": "list", "data": data, "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    @app.post("/v1/audio/transcriptions")
    async def transcriptions(request: Request) -> Any:
        form = await request.form()
        upload = form.get("file")
        fields = {k: v for k, v in form.items() if k != "file"}
        audio = await upload.read() if hasattr(upload, "read") else b""
        await form.close()  # its spooled upload files
        script.transcriptions.append({**fields, "file_bytes": audio, "filename": getattr(upload, "filename", None)})
        failure = script.next_failure()
        if failure is not None:
            return _error(failure)
        text = script.transcript
        response_format = fields.get("response_format") or "json"
        if response_format in ("text", "srt", "vtt"):
            return PlainTextResponse(text)
        if response_format == "verbose_json":
            return {"text": text, "language": fields.get("language") or "english", "duration": 1.0,
                    "segments": [{"id": 0, "start": 0.0, "end": 1.0, "text": text}]}
        if response_format == "diarized_json":
            step = 1.0 / max(1, len(script.speakers))
            segments = [
                {"id": f"seg_{i}", "type": "transcript.text.segment", "speaker": speaker, "text": said,
                 "start": i * step, "end": (i + 1) * step}
                for i, (speaker, said) in enumerate(script.speakers)
            ]
            return {"text": " ".join(said for _, said in script.speakers), "task": "transcribe", "duration": 1.0,
                    "segments": segments}
        return {"text": text}

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Any:
        body = await request.json()
        script.speeches.append(body)
        failure = script.next_failure()
        if failure is not None:
            return _error(failure)
        audio = f"{body.get('response_format', 'mp3')}:{body.get('voice')}:{body.get('input')}".encode()
        return Response(audio, media_type="audio/mpeg")

    @app.post("/v1/messages")
    async def anthropic_messages(request: Request) -> Any:
        """Anthropic's Messages API, streamed (the only way `Model` calls it)."""
        body = await request.json()
        reply = script.choose(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            headers = {"retry-after": str(reply.retry_after)} if reply.retry_after is not None else {}
            error = {"type": "error", "error": {"type": "api_error", "message": f"scripted {reply.status}"}}
            return JSONResponse(error, reply.status, headers)

        def event(kind: str, data: dict[str, Any]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        async def events() -> AsyncIterator[str]:
            usage = {"input_tokens": 1, "output_tokens": 1}
            message = {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": body["model"],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            }
            yield event("message_start", {"message": message})
            index = 0
            if reply.text:
                yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
                for i, word in enumerate(reply.text.split(" ")):
                    text = word if i == 0 else " " + word
                    yield event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}})
                yield event("content_block_stop", {"index": 0})
                index = 1
            for name, args in reply.tool_calls:
                block = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:8]}", "name": name, "input": {}}
                yield event("content_block_start", {"index": index, "content_block": block})
                arguments = json.dumps(args)
                for part in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
                    delta = {"type": "input_json_delta", "partial_json": part}
                    yield event("content_block_delta", {"index": index, "delta": delta})
                yield event("content_block_stop", {"index": index})
                index += 1
            stop = "tool_use" if reply.tool_calls else "end_turn"
            yield event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage})
            yield event("message_stop", {})

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


class ScriptedLLM:
    """Runs the scripted server in a thread of the test process; `base_url` ends in `/v1`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.script = Script()
        self.host = host  # another address when containers must reach it (their gateway to the host)
        config = uvicorn.Config(build_app(self.script), host=host, port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = 0

    def start(self) -> ScriptedLLM:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("scripted LLM server did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def main() -> None:
    """Run standalone (for node subprocesses and the benchmark): answers every request with a fixed text."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--text", default="ok")
    args = parser.parse_args()
    script = Script()
    script.default = Reply(text=args.text)
    uvicorn.run(build_app(script), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
