"""`zone dev` of a pod whose second container is an image (not images/<name>/): it runs with Docker,
shares localhost with the node process as containers of one pod do, and goes away on Ctrl-C."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.docker_engine import DockerEngine
from tests.zone_dev_support import DevRun, free_port

pytestmark = pytest.mark.docker

MAIN = '''
import os
import httpx
from fastapi import FastAPI
from autonomy import HttpServer, Node

app = FastAPI()

@app.get("/sidecar")
async def sidecar():
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://localhost:{os.environ['SIDECAR_PORT']}/")
    return {"status": response.status_code, "body": response.text}

Node.start(http_server=HttpServer(app=app))
'''


def test_image_container_runs_in_docker_beside_the_node(docker_engine: DockerEngine, tmp_path: Path) -> None:
    sidecar_port = free_port()
    (tmp_path / "images" / "main").mkdir(parents=True)
    (tmp_path / "images" / "main" / "main.py").write_text(MAIN)
    (tmp_path / "autonomy.yaml").write_text(f"""
name: side
pods:
  - name: main-pod
    public: true
    containers:
      - name: main
        image: main
        env: {{SIDECAR_PORT: "{sidecar_port}"}}
      - name: web
        image: {docker_engine.base_image}
        args: [python3, -m, http.server, "{sidecar_port}", --bind, 127.0.0.1, --directory, /]
""")
    run = DevRun(tmp_path / "autonomy.yaml")
    container = "autonomy-dev-side-main-pod-0-web"
    try:
        body = run.wait_for("/sidecar", lambda r: r.status_code == 200 and r.json(), timeout=90)
        assert body["status"] == 200
        assert ".dockerenv" in body["body"]  # the listing of the container's own root: it ran in Docker
        assert "main-pod/web" in run.output()
        assert docker_engine.run("inspect", container, check=False).returncode == 0
        assert run.stop(signal.SIGINT) == 0
        run.wait_none_left()
        assert docker_engine.run("inspect", container, check=False).returncode != 0  # removed
    finally:
        run.cleanup()
        docker_engine.run("rm", "-f", container, check=False)
