"""Model calls over kept-alive connections that the server closes (its idle timeout): measured with
thousands of short-lived agents, such calls failed as "APITimeoutError: Request timed out" and waited a
retry's backoff although the model answers at once."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator

import pytest

from autonomy.models import Model, ModelRequestError, clients
from autonomy.models.clients import close_clients

ANSWER = {
    "id": "c",
    "object": "chat.completion.chunk",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}
BODY = f"data: {json.dumps(ANSWER)}\n\ndata: [DONE]\n\n".encode()


class ClosingServer:
    """An OpenAI-compatible stand-in on raw TCP that answers the first `answers_per_connection` requests
    of each connection with keep-alive, and closes the connection on the next one without a word: what
    a server whose idle timeout fires as the client reuses the connection does."""

    def __init__(self, answers_per_connection: int = 1) -> None:
        self.answers_per_connection = answers_per_connection
        self.connections = 0
        self.answered = 0
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.lower().split(b"\r\n")
                length = next((int(ln.split(b":")[1]) for ln in lines if ln.startswith(b"content-length")), 0)
                await reader.readexactly(length)
                if served >= self.answers_per_connection:
                    return  # close without answering
                served += 1
                self.answered += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: keep-alive\r\n"
                    + f"content-length: {len(BODY)}\r\n\r\n".encode()
                    + BODY
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def pool() -> AsyncIterator[None]:
    yield
    await close_clients()


async def test_a_call_on_a_connection_the_server_closed_is_resent_at_once_without_a_retry(
    pool: None, caplog: pytest.LogCaptureFixture
) -> None:
    server = ClosingServer(answers_per_connection=1)
    async with server as base_url:
        model = Model("gpt-pooled", base_url=base_url, api_key="k")
        began = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="autonomy.model"):
            for _ in range(5):  # every call after the first goes out on a connection the server then drops
                assert (await model.complete([{"role": "user", "content": "x"}])).text == "ok"
        elapsed = time.monotonic() - began
    assert not [r for r in caplog.records if "retry" in r.getMessage()], "a closed pooled connection is no failure"
    assert elapsed < 0.9  # a retry's backoff is at least half a second
    assert server.answered == 5 and server.connections >= 5  # each resend on a fresh connection


async def test_a_server_that_always_drops_the_connection_is_named_after_a_few_resends(pool: None) -> None:
    async with ClosingServer(answers_per_connection=0) as base_url:
        model = Model("gpt-dropped", base_url=base_url, api_key="k", throttle_max_retry_attempts=0)
        with pytest.raises(ModelRequestError, match="closed the connection without an answer"):
            await model.complete([{"role": "user", "content": "x"}])


def test_idle_connections_leave_the_pool_before_common_server_idle_timeouts() -> None:
    """uvicorn, Node and Apache close idle connections at 5 s, gunicorn at 2 s."""
    import openai

    limits = clients.connection_limits(openai.DEFAULT_CONNECTION_LIMITS)
    assert limits.keepalive_expiry is not None and limits.keepalive_expiry < 2
