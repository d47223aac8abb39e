"""HttpServer: FastAPI + uvicorn inside the node's event loop, on :8000 by default.

As upstream: pass `app=` to have the built-in routes added to your own FastAPI app, or `api=` (an
object with `.routes(node)` and `.api`) to mount a sub-app at `/`. If `API_KEY` is set in the
environment and the server made the app itself, every route but the probes wants `?api_key=`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from autonomy.http.routes import ROUTERS

if TYPE_CHECKING:
    from autonomy.node import Node

logger = logging.getLogger("autonomy.http")

_OPEN_PATHS = ("/healthz", "/readyz")


def default_listen_address() -> str:
    host = os.environ.get("DEFAULT_HOST_HTTP", "0.0.0.0")
    port = os.environ.get("DEFAULT_PORT_HTTP", "8000")
    return f"{host}:{port}"


def parse_listen_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {address!r} must look like HOST:PORT, e.g. 0.0.0.0:8000")
    return host or "0.0.0.0", int(port)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the node owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    def __init__(self, listen_address: str | None = None, app: FastAPI | None = None, api: Any = None) -> None:
        self.listen_address = listen_address or default_listen_address()
        self.host, self.port = parse_listen_address(self.listen_address)
        self.app = app
        self.api = api
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    def build_app(self, node: Node) -> FastAPI:
        created = self.app is None
        app = self.app if self.app is not None else FastAPI(title=f"Autonomy node {node.name}")
        app.state.autonomy_node = node
        for router in ROUTERS:
            app.include_router(router)
        index = Path("index.html")
        if index.is_file() and not any(getattr(r, "path", None) == "/" for r in app.router.routes):
            resolved = index.resolve()

            @app.get("/", include_in_schema=False)
            async def index_page() -> FileResponse:
                return FileResponse(resolved)

        if self.api is not None:
            self.api.routes(node)
            app.mount("/", self.api.api)
        api_key = os.environ.get("API_KEY")
        if created and api_key:
            app.middleware("http")(_require_api_key(api_key))
        return app

    async def start(self, node: Node) -> None:
        app = self.build_app(node)
        # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP;
        # with proto 0 every response written in two parts waits ~40 ms for a delayed ACK.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            raise OSError(f"cannot serve HTTP on {self.listen_address}: {error.strerror} "
                          "(set DEFAULT_PORT_HTTP, or pass HttpServer(listen_address=...))") from None
        sock.listen(2048)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                ws_ping_interval=None, ws_ping_timeout=None, timeout_graceful_shutdown=5)
        self._server = server = _EmbeddedServer(config)
        self._task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        while not server.started:
            if self._task.done():
                self._task.result()
                raise OSError(f"HTTP server on {self.listen_address} stopped during start-up")
            await asyncio.sleep(0.01)
        logger.info("HTTP on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 6.0)
        except TimeoutError:
            self._server.force_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 2.0)
        self._server = None
        self._task = None


def _require_api_key(api_key: str) -> Callable[[Request, Callable[[Request], Awaitable[Response]]],
                                                 Awaitable[Response]]:
    async def check(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path not in _OPEN_PATHS:
            given = request.query_params.get("api_key", "")
            if not hmac.compare_digest(given.encode(), api_key.encode()):
                return JSONResponse({"detail": "missing or wrong api_key query parameter"}, status_code=401)
        return await call_next(request)

    return check
