"""The agents' hot path to an OpenAI-compatible endpoint: one streamed `POST /chat/completions` on a
shared aiohttp pool, its server-sent events read as plain dicts.

Measured with thousands of short-lived agents (bench/short_lived_agents_bench.py), the `openai` SDK's
request machinery (building the request, its headers and URL, httpx over aiohttp, its stream wrapper) was
half of the CPU an agent costs to start, ask once and stop; this path does the same request in a fraction
of it. Everything else (`complete_chat`, embeddings, audio) still goes through the SDK.

Failures look as the SDK's do to `Model`'s retry policy: `EndpointStatusError` carries `status_code` and
the `response` headers (`Retry-After`), `EndpointConnectionError` a cause that tells a dropped pooled
connection from an unreachable endpoint.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from autonomy.models.clients import KEEPALIVE_SECONDS, max_connections, shared_client


class EndpointStatusError(Exception):
    """The endpoint answered with an error status."""

    def __init__(self, status_code: int, headers: Mapping[str, str], body: str) -> None:
        super().__init__(f"HTTP {status_code}: {body[:500]}")
        self.status_code = status_code
        self.response = self  # as the SDKs' errors: `error.response.headers`
        self.headers = headers


class EndpointConnectionError(Exception):
    """No answer: the endpoint could not be reached, timed out, or dropped the connection."""


def _ssl_context() -> ssl.SSLContext:
    cafile = os.environ.get("SSL_CERT_FILE")
    if not cafile:
        try:
            import certifi

            cafile = certifi.where()
        except ImportError:
            cafile = None
    return ssl.create_default_context(cafile=cafile)


class ChatStreamClient:
    def __init__(self, base_url: str | None, api_key: str | None, request_timeout: float, connect_timeout: float):
        base = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        self.url = f"{base}/chat/completions"
        self.headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=request_timeout)
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=max_connections(),
                keepalive_timeout=KEEPALIVE_SECONDS,
                ssl=_ssl_context() if self.url.startswith("https:") else False,
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, trust_env=True)
        return self._session

    async def open(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Send the request; raise on an error status or no answer, else return the chunks to read."""
        try:
            response = await self._get_session().post(self.url, data=json.dumps(body), headers=self.headers)
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise EndpointConnectionError(f"{type(error).__name__}: {error}") from error
        if response.status >= 400:
            try:
                text = await response.text(errors="replace")
            except (aiohttp.ClientError, TimeoutError):
                text = ""
            response.release()
            raise EndpointStatusError(response.status, response.headers, text)
        return self._chunks(response)

    async def _chunks(self, response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
        try:
            async for raw in response.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    continue
                if isinstance(chunk, dict):
                    if "error" in chunk and not chunk.get("choices"):
                        raise EndpointStatusError(500, {}, json.dumps(chunk["error"]))
                    yield chunk
            else:
                return
            await response.read()  # to the end of the body, so the connection goes back to the pool
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise EndpointConnectionError(f"{type(error).__name__}: {error}") from error
        finally:
            response.release()

    def is_closed(self) -> bool:
        return self._session is None or self._session.closed

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def stream_client_for(
    base_url: str | None, api_key: str | None, request_timeout: float, connect_timeout: float
) -> ChatStreamClient:
    client: ChatStreamClient = shared_client(
        (__name__, base_url, api_key, request_timeout, connect_timeout),
        lambda: ChatStreamClient(base_url, api_key, request_timeout, connect_timeout),
    )
    return client
