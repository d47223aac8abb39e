"""FastAPI dependencies that hand routes the Node they run on, and the HTTP settings of its server.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, a thread hop per
request that cost about a tenth of an agent call's CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, WebSocket

from autonomy.http.settings import HttpSettings

if TYPE_CHECKING:
    from autonomy.node import Node


async def get_node(request: Request) -> Node:
    node = getattr(request.app.state, "autonomy_node", None)
    if node is None:
        raise HTTPException(status_code=503, detail="the node is not running")
    return node  # type: ignore[no-any-return]


async def get_settings(request: Request) -> HttpSettings:
    settings = getattr(request.app.state, "autonomy_http_settings", None)
    return settings if isinstance(settings, HttpSettings) else HttpSettings()


async def get_websocket_node(websocket: WebSocket) -> Node:
    node = getattr(websocket.app.state, "autonomy_node", None)
    if node is None:
        raise RuntimeError("the node is not running")
    return node  # type: ignore[no-any-return]


NodeDep = Annotated[Any, Depends(get_node)]
WebSocketNodeDep = Annotated[Any, Depends(get_websocket_node)]
SettingsDep = Annotated[HttpSettings, Depends(get_settings)]
