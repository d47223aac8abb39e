"""HttpServer: FastAPI + uvicorn inside the node's event loop, on :8000 by default.

As upstream: pass `app=` to have the built-in routes added to your own FastAPI app, or `api=` (an
object with `.routes(node)` and `.api`) to mount a sub-app at `/`. If `API_KEY` is set in the
environment, every built-in route but the probes wants the key (see `autonomy.http.auth`), whatever the
app; an app's own routes are the app's to protect. Connections have `HttpSettings.read_timeout` seconds to
send each request head, idle ones are closed as soon, and heads are bounded (`autonomy.http.protocol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.params import Depends as Dependency
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from autonomy.http.auth import require_api_key
from autonomy.http.protocol import GuardedHttpToolsProtocol
from autonomy.http.routes import OPEN_ROUTERS, ROUTERS
from autonomy.http.settings import HttpSettings

if TYPE_CHECKING:
    from autonomy.node import Node

logger = logging.getLogger("autonomy.http")

#: Connections beyond the agent calls allowed in flight, for probes and reads (uvicorn answers 503 beyond).
CONNECTION_HEADROOM = 1024


def default_listen_address() -> str:
    host = os.environ.get("DEFAULT_HOST_HTTP", "0.0.0.0")
    port = os.environ.get("DEFAULT_PORT_HTTP", "8000")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"DEFAULT_PORT_HTTP={port!r} is not a port: use a number from 0 to 65535, e.g. 8000")
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
    def __init__(self, listen_address: str | None = None, app: FastAPI | None = None, api: Any = None,
                 settings: HttpSettings | None = None) -> None:
        self.listen_address = listen_address or default_listen_address()
        self.host, self.port = parse_listen_address(self.listen_address)
        self.app = app
        self.api = api
        self.settings = settings or HttpSettings.from_environment()
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    def build_app(self, node: Node) -> FastAPI:
        api_key = os.environ.get("API_KEY", "")
        guard: Sequence[Dependency] = [Depends(require_api_key(api_key))] if api_key else []
        if self.app is not None:
            app = self.app
        elif guard:  # the node's own documents want the key too
            app = FastAPI(title=f"Autonomy node {node.name}", openapi_url=None, docs_url=None, redoc_url=None)
            _add_guarded_docs(app, guard)
        else:
            app = FastAPI(title=f"Autonomy node {node.name}")
        app.state.autonomy_node = node
        app.state.autonomy_http_settings = self.settings
        for router in OPEN_ROUTERS:
            app.include_router(router)
        for router in ROUTERS:
            app.include_router(router, dependencies=guard)
        index = Path("index.html")
        if index.is_file() and not any(getattr(r, "path", None) == "/" for r in app.router.routes):
            resolved = index.resolve()

            @app.get("/", include_in_schema=False, dependencies=guard)
            async def index_page() -> FileResponse:
                return FileResponse(resolved)

        if self.api is not None:
            self.api.routes(node)
            app.mount("/", self.api.api)
        app.openapi_schema = None  # built again with the routes added here
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
        limits = self.settings
        protocol = GuardedHttpToolsProtocol.with_limits(limits.read_timeout, limits.max_header_bytes)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", http=protocol,
                                ws_ping_interval=None, ws_ping_timeout=None, timeout_graceful_shutdown=5,
                                timeout_keep_alive=math.ceil(limits.read_timeout),
                                h11_max_incomplete_event_size=limits.max_header_bytes,
                                limit_concurrency=limits.max_agent_requests + CONNECTION_HEADROOM)
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


def _add_guarded_docs(app: FastAPI, guard: Sequence[Dependency]) -> None:
    """`/openapi.json` and `/docs` of a node's own app, behind the API key; the page passes the key it was
    given in the query on to the document it loads (a browser sends no headers of its own)."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=guard)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    async def docs(request: Request) -> HTMLResponse:
        key = request.query_params.get("api_key")
        url = "/openapi.json" + (f"?api_key={quote(key, safe='')}" if key else "")
        return get_swagger_ui_html(openapi_url=url, title=f"{app.title} - docs")
