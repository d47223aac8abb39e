"""The HTTP edge of a real node over real sockets: bodies read with a limit, bounded request heads,
connections that send too little too slowly closed within seconds (no slowloris)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autonomy import Agent, HttpServer, Model, Node
from tests.support.scripted_llm import ScriptedLLM


def options(tmp_path: Path) -> dict[str, Any]:
    return dict(registry_dir=tmp_path, transport_port=0, transport_host="127.0.0.1", zone="web", discovery="local")


@pytest.fixture
async def served(tmp_path: Path, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    """A node with one agent; yields its HTTP port."""
    monkeypatch.setenv("AUTONOMY_DATA_DIR", str(tmp_path / "data"))
    server = HttpServer(listen_address="127.0.0.1:0")
    async with Node.serve(name="edge-1", http_server=server, **options(tmp_path)) as node:
        await Agent.start(node=node, name="henry", instructions="You are Henry.", model=Model("m"))
        yield server.port


async def _read_until_closed(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sends until it closes the connection; fails if it is still open `within` s on."""
    received = b""
    async with asyncio.timeout(within):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def test_a_chunked_body_over_the_limit_is_413_before_it_ends(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(b"POST /agents/henry HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    for _ in range(24):  # 1.5 MiB, over the default 1 MiB, and never the last chunk
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    await writer.drain()
    try:
        answer = await reader.readuntil(b"AUTONOMY_MAX_REQUEST_BYTES")  # the answer comes before the body ends
        assert answer.startswith(b"HTTP/1.1 413 ")
        await _read_until_closed(reader, 8)  # and the rest of the body is not waited for
    finally:
        writer.close()


async def test_log_levels_take_a_small_body_and_known_loggers_only(served: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{served}") as http:
        huge = await http.post("/logs/levels", json={"level": "info", "module": "x" * 100_000})
        assert huge.status_code == 413 and "bytes" in huge.json()["detail"]
        before = set(logging.root.manager.loggerDict)
        for name in ("no-such-module", "transport.nope"):
            unknown = await http.post("/logs/levels", json={"level": "info", "module": name})
            assert unknown.status_code == 422 and "module" in unknown.text
        assert set(logging.root.manager.loggerDict) == before  # nothing kept of the names it was given
        agent = logging.getLogger("autonomy.agent")
        level = agent.level
        try:
            known = await http.post("/logs/levels", json={"level": "warning", "module": "agent"})
            assert known.status_code == 200 and known.json()["levels"]["agent"] == "warning"
        finally:
            agent.setLevel(level)


async def test_a_body_sent_too_slowly_is_408(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(b"POST /agents/henry HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"message\": ")  # and the other 987 bytes never come
    await writer.drain()
    start = time.monotonic()
    try:
        answer = await _read_until_closed(reader, 8)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 5s" in answer
    assert time.monotonic() - start < 8


async def test_an_idle_new_connection_is_closed_within_seconds(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    start = time.monotonic()
    try:
        assert await _read_until_closed(reader, 8) == b""
    finally:
        writer.close()
    assert time.monotonic() - start < 8


async def test_a_request_head_sent_slowly_is_cut_off_within_seconds(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: node\r\n")
    start = time.monotonic()

    async def trickle() -> None:
        for n in range(30):  # a header every half second: each one resets no timer
            await asyncio.sleep(0.5)
            writer.write(b"X-Slow-%d: y\r\n" % n)
            await writer.drain()

    dripping = asyncio.create_task(trickle())
    try:
        assert not (await _read_until_closed(reader, 8)).startswith(b"HTTP/1.1 200")
    finally:
        dripping.cancel()
        await asyncio.gather(dripping, return_exceptions=True)
        writer.close()
    assert time.monotonic() - start < 8


async def test_a_kept_alive_connection_with_half_a_request_is_closed(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n")
    await writer.drain()
    first = await reader.readuntil(b'{"status":"ok"}')
    assert first.startswith(b"HTTP/1.1 200")
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: node\r\n")  # and never the blank line
    await writer.drain()
    try:
        assert await _read_until_closed(reader, 8) == b""
    finally:
        writer.close()


async def test_an_oversized_request_head_is_431(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: node\r\nX-Big: " + b"a" * 200_000)
    await writer.drain()
    try:
        answer = await _read_until_closed(reader, 3)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_bad_http_settings_stop_the_server_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_PORT_HTTP", "http")
    with pytest.raises(ValueError, match="DEFAULT_PORT_HTTP='http' is not a port"):
        HttpServer()
    monkeypatch.delenv("DEFAULT_PORT_HTTP")
    monkeypatch.setenv("AUTONOMY_MAX_AGENT_REQUESTS", "many")
    with pytest.raises(ValueError, match="AUTONOMY_MAX_AGENT_REQUESTS='many' is not a whole number"):
        HttpServer(listen_address="127.0.0.1:0")
    monkeypatch.delenv("AUTONOMY_MAX_AGENT_REQUESTS")
    monkeypatch.setenv("AUTONOMY_MAX_REQUEST_BYTES", "1MiB")
    assert HttpServer(listen_address="127.0.0.1:0").settings.max_request_bytes == 1024 * 1024


async def test_connections_beyond_the_limit_get_503(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import autonomy.http.server as http_server
    from autonomy.http.settings import HttpSettings

    monkeypatch.setattr(http_server, "CONNECTION_HEADROOM", 1)
    server = HttpServer(listen_address="127.0.0.1:0", settings=HttpSettings(max_agent_requests=2))
    async with Node.serve(name="edge-2", http_server=server, **options(tmp_path)):
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
                assert (await http.get("/healthz")).status_code == 503
        finally:
            for _, writer in held:
                writer.close()
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            assert (await http.get("/healthz")).status_code == 200
