"""The node's HTTP API (FastAPI on :8000): built-in routes, custom apps, `NodeDep`."""

from autonomy.http.deps import NodeDep, WebSocketNodeDep
from autonomy.http.server import HttpServer
from autonomy.node import set_default_http_server

set_default_http_server(HttpServer)

__all__ = ["HttpServer", "NodeDep", "WebSocketNodeDep"]
