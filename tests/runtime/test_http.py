"""The node's HTTP API over a real socket: built-in routes, probes, log levels, API key, custom apps."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from autonomy import HttpServer, Node, NodeDep


class Echo:
    async def handle_message(self, context, message):
        await context.reply(message)


def options(tmp_path):
    return dict(registry_dir=tmp_path, transport_port=0, transport_host="127.0.0.1", zone="web", discovery="local")


async def test_builtin_routes(tmp_path):
    server = HttpServer(listen_address="127.0.0.1:0")
    async with Node.serve(name="web-1", http_server=server, **options(tmp_path)) as node:
        await node.start_worker("echo", Echo())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["node"] == "web-1"
            assert (await http.get("/workers")).json() == {"workers": [{"name": "echo"}]}
            assert (await http.get("/agents")).json() == {"agents": []}

            changed = await http.post("/logs/levels", json={"level": "DEBUG", "module": "transport"})
            assert changed.status_code == 200
            levels = (await http.get("/logs/levels")).json()
            assert levels["levels"]["transport"] == "debug"
            assert "debug" in levels["available_levels"]
            bad = await http.post("/logs/levels", json={"level": "LOUD"})
            assert bad.status_code == 422 and "LOUD" in bad.json()["detail"]
        node._ready = False  # what stop() does first: probes must say so
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            assert (await http.get("/readyz")).status_code == 503


async def test_api_key_protects_every_route_but_probes(tmp_path, monkeypatch):
    monkeypatch.setenv("API_KEY", "s3cret")
    server = HttpServer(listen_address="127.0.0.1:0")
    async with Node.serve(name="web-2", http_server=server, **options(tmp_path)):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            assert (await http.get("/workers")).status_code == 401
            assert (await http.get("/workers", params={"api_key": "wrong"})).status_code == 401
            assert (await http.get("/workers", params={"api_key": "s3cret"})).status_code == 200
            assert (await http.get("/healthz")).status_code == 200


async def test_custom_app_gets_builtin_routes_and_node_dependency(tmp_path):
    app = FastAPI()

    @app.post("/shout")
    async def shout(body: dict, node: NodeDep) -> dict:
        answer = await node.send_and_receive("echo", body["text"].upper())
        return {"node": node.name, "answer": answer}

    server = HttpServer(listen_address="127.0.0.1:0", app=app)
    async with Node.serve(name="web-3", http_server=server, **options(tmp_path)) as node:
        await node.start_worker("echo", Echo())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            assert (await http.post("/shout", json={"text": "hi"})).json() == {"node": "web-3", "answer": "HI"}
            assert (await http.get("/workers")).status_code == 200


async def test_taken_port_is_a_clear_error(tmp_path):
    first = HttpServer(listen_address="127.0.0.1:0")
    async with Node.serve(name="web-4", http_server=first, **options(tmp_path)):
        second = HttpServer(listen_address=f"127.0.0.1:{first.port}")
        with pytest.raises(OSError, match="DEFAULT_PORT_HTTP"):
            async with Node.serve(name="web-5", http_server=second, **options(tmp_path)):
                pass


async def test_api_key_guards_builtin_routes_of_a_custom_app_and_leaves_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("API_KEY", "s3cret")
    app = FastAPI()

    @app.get("/mine")
    async def mine() -> dict:
        return {"mine": True}

    server = HttpServer(listen_address="127.0.0.1:0", app=app)
    async with Node.serve(name="web-6", http_server=server, **options(tmp_path)):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            for method, path in (("GET", "/workers"), ("GET", "/agents"), ("GET", "/logs/levels"),
                                 ("POST", "/agents/x"), ("GET", "/tools")):
                refused = await http.request(method, path)
                assert refused.status_code == 401, path
                assert "s3cret" not in refused.text and "X-API-KEY" in refused.json()["detail"]
            changed = await http.post("/logs/levels", json={"level": "debug", "module": "http"})
            assert changed.status_code == 401
            assert (await http.get("/workers", headers={"X-API-KEY": "wrong"})).status_code == 401
            assert (await http.get("/workers", headers={"X-API-KEY": "s3cret"})).status_code == 200
            assert (await http.get("/workers", headers={"Authorization": "Bearer s3cret"})).status_code == 200
            assert (await http.get("/workers", params={"api_key": "s3cret"})).status_code == 200
            assert (await http.get("/mine")).json() == {"mine": True}  # the app's own route: the app's business
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 200


async def test_api_key_in_a_header_and_on_the_node_documents(tmp_path, monkeypatch):
    monkeypatch.setenv("API_KEY", "s3cret")
    sub = FastAPI()

    @sub.get("/hello")
    async def hello() -> dict:
        return {"hello": "world"}

    class Api:
        api = sub

        def routes(self, node):
            pass

    server = HttpServer(listen_address="127.0.0.1:0", api=Api())
    async with Node.serve(name="web-7", http_server=server, **options(tmp_path)):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            assert (await http.get("/workers", headers={"X-API-KEY": "s3cret"})).status_code == 200
            assert (await http.get("/workers", headers={"Authorization": "Bearer s3cret"})).status_code == 200
            assert (await http.get("/openapi.json")).status_code == 401
            document = await http.get("/openapi.json", headers={"X-API-KEY": "s3cret"})
            assert document.status_code == 200 and "/agents/{name}" in document.json()["paths"]
            assert (await http.get("/docs", params={"api_key": "s3cret"})).status_code == 200
            assert (await http.get("/hello")).json() == {"hello": "world"}  # the mounted app guards itself
