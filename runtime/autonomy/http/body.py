"""Request bodies read with a limit and a deadline, and JSON that is checked at the edge.

`read_body` streams the body and stops at the limit, whether the client sent a Content-Length or chunks:
nothing past the limit is buffered (uvicorn drops the rest of a body once the answer is out, and the
server closes a connection that brings no new request head in time, see `autonomy.http.protocol`).
`load_json` refuses what would poison the layers behind it: bytes that are not UTF-8, nesting deeper
than `MAX_DEPTH`, and strings that hold a lone surrogate (text that cannot be stored or sent on as UTF-8).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from autonomy.http.settings import HttpSettings

#: Deepest nesting of arrays and objects a JSON body may have.
MAX_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
_CLOSE = {"Connection": "close"}


async def read_body(request: Request, limit: int, timeout: float, setting: str = "") -> bytes:
    """The whole body, or 413 as soon as it passes `limit` bytes, or 408 if it takes over `timeout` s."""
    where = f" ({setting})" if setting else ""
    too_large = HTTPException(413, f"request body over {limit} bytes{where}")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise HTTPException(408, f"the request body did not arrive within {timeout:g}s", headers=_CLOSE) from None
    return b"".join(chunks)


def _where(path: list[str | int]) -> str:
    shown = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return shown or "body"


def check_json(data: Any) -> None:
    """400 if `data` nests deeper than MAX_DEPTH or holds a lone surrogate; the detail names the field."""
    pending: list[tuple[Any, list[str | int]]] = [(data, [])]
    while pending:
        value, path = pending.pop()
        if len(path) > MAX_DEPTH:
            raise HTTPException(400, f"JSON body nests deeper than {MAX_DEPTH} levels at {_where(path[:MAX_DEPTH])}")
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise HTTPException(400, f"{_where(path)} holds a lone surrogate (\\ud800-\\udfff): send valid "
                                         "Unicode text")
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    raise HTTPException(400, f"a key in {_where(path)} holds a lone surrogate: send valid Unicode")
                pending.append((item, [*path, key]))
        elif isinstance(value, list):
            pending.extend((item, [*path, index]) for index, item in enumerate(value))


def load_json(body: bytes) -> Any:
    """Parse a JSON body; 400 with a clear detail for anything that is not clean JSON in UTF-8."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(400, f"body is not valid UTF-8 (byte {error.start}): send JSON encoded as UTF-8") from None
    try:
        data = json.loads(text or "null")
    except json.JSONDecodeError as error:
        raise HTTPException(400, f"body is not valid JSON: {error}") from None
    except RecursionError:
        raise HTTPException(400, f"JSON body nests deeper than {MAX_DEPTH} levels") from None
    check_json(data)
    return data


def bounded_route(limit: int) -> type[APIRoute]:
    """A route class whose request body FastAPI reads through `read_body` (for routes with a model body),
    within the server's `read_timeout`."""

    class BoundedRequest(Request):
        async def body(self) -> bytes:
            if not hasattr(self, "_body"):
                settings = getattr(self.app.state, "autonomy_http_settings", None)
                timeout = settings.read_timeout if settings is not None else HttpSettings.read_timeout
                body = await read_body(self, limit, timeout)
                if body:
                    load_json(body)  # the same 400s as the routes that parse their own bodies
                self._body = body
            return self._body

    class BoundedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def bounded(request: Request) -> Response:
                return await handler(BoundedRequest(request.scope, request.receive))

            return bounded

    return BoundedRoute
