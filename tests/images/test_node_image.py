"""The node base image and app images built on it, built and run with a real Docker engine."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from autonomy.identity.dev_authority import create_dev_authority
from tests.docker_engine import ROOT, DockerEngine

pytestmark = pytest.mark.docker

#: The user the node image runs as (images/node/Dockerfile).
NODE_UID = 10001


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_node_image_runs_the_framework_as_non_root(docker_engine: DockerEngine, node_image: str) -> None:
    # psycopg: the image carries the PostgreSQL driver, so AUTONOMY_DATABASE_URL=postgresql://... works as is
    probe = (
        "import autonomy, os, sys, psycopg, psycopg_pool; "
        "print(autonomy.__version__, sys.prefix, os.getuid(), os.getcwd(), psycopg.pq.version() > 0)"
    )
    out = docker_engine.run("run", "--rm", node_image, "python", "-c", probe).stdout.split()
    assert out == ["0.1.0", "/app/venv", "10001", "/app", "True"]


def test_node_image_default_command_serves_probes(docker_engine: DockerEngine, node_image: str) -> None:
    port = _free_port()
    name = f"autonomy-test-{uuid.uuid4().hex[:8]}"
    docker_engine.run(
        "run", "-d", "--rm", "--name", name, "--network", "host",
        "-e", "DEFAULT_HOST_HTTP=127.0.0.1", "-e", f"DEFAULT_PORT_HTTP={port}",
        "-e", "AUTONOMY_DISCOVERY=none", "-e", "AUTONOMY_TRANSPORT_PORT=0", node_image,
    )
    try:
        assert _wait_http(f"http://127.0.0.1:{port}/readyz", 60).status_code == 200
    finally:
        docker_engine.run("rm", "-f", name, check=False)


@pytest.fixture
def fanout_images(docker_engine: DockerEngine, node_image: str) -> Iterator[dict[str, str]]:
    tags = {}
    for image in ("main", "runner"):
        tag = f"autonomy-test/fanout-{image}:{uuid.uuid4().hex[:8]}"
        docker_engine.run(
            "build", "-q", "-t", tag, "--build-arg", f"NODE_IMAGE={node_image}",
            str(ROOT / "examples" / "fanout" / "images" / image),
        )
        tags[image] = tag
    yield tags
    docker_engine.run("rmi", "-f", *tags.values(), check=False)


@pytest.fixture
def containers(docker_engine: DockerEngine) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    if names:
        docker_engine.run("rm", "-f", *names, check=False)


def test_fanout_example_images_spread_work_over_every_runner(
    docker_engine: DockerEngine, fanout_images: dict[str, str], containers: list[str]
) -> None:
    """The example's own Dockerfiles, on the node image: main ships workers to three runner containers.

    Host network and PID namespace stand in for the pod network here (local discovery checks
    that a node's pid is alive); the registry directory is shared through a bind mount.
    """
    registry = Path(tempfile.mkdtemp(prefix="autonomy-img-registry-"))
    os.chmod(registry, 0o777)
    # The zone's CA, as `zone dev` makes it: the nodes link only with certificates it signs. Its files
    # must belong to the user the nodes run as (the image's uid 10001).
    ca_dir = registry.with_name(registry.name + "-ca")
    create_dev_authority(ca_dir, "test", "local", "fanout")
    for path in (ca_dir, *ca_dir.iterdir()):
        os.chown(path, NODE_UID, NODE_UID)
    port = _free_port()
    run_id = uuid.uuid4().hex[:6]
    common = ["--network", "host", "--pid", "host", "-v", f"{registry}:/registry", "-v", f"{ca_dir}:/ca:ro",
              "-e", "AUTONOMY_DEV_CA_DIR=/ca", "-e", "NAMESPACE=local",
              "-e", "AUTONOMY_DISCOVERY=local", "-e", "AUTONOMY_REGISTRY_DIR=/registry",
              "-e", "AUTONOMY_TRANSPORT_PORT=0", "-e", "POD_IP=127.0.0.1", "-e", "ZONE=fanout",
              "-e", "CLUSTER=test", "-e", "DEFAULT_HOST_HTTP=127.0.0.1"]
    for clone in range(3):
        name = f"autonomy-test-{run_id}-runner-{clone}"
        containers.append(name)
        docker_engine.run("run", "-d", "--name", name, *common, "-e", "POD=runner-pod",
                          "-e", f"NODE=fanout-runner-pod-{clone}", "-e", f"DEFAULT_PORT_HTTP={_free_port()}",
                          fanout_images["runner"])
    name = f"autonomy-test-{run_id}-main"
    containers.append(name)
    docker_engine.run("run", "-d", "--name", name, *common, "-e", "POD=main-pod",
                      "-e", "NODE=fanout-main-pod-0", "-e", f"DEFAULT_PORT_HTTP={port}", fanout_images["main"])
    body = _fanout_until_three_runners(f"http://127.0.0.1:{port}/fanout?n=300", 60)
    assert sorted(r["node"] for r in body["results"]) == [f"fanout-runner-pod-{i}" for i in range(3)]
    assert sum(r["count"] for r in body["results"]) == 300
    assert body["sum_of_squares"] == sum(i * i for i in range(1, 301))


def _wait_http(url: str, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _fanout_until_three_runners(url: str, timeout: float) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=10)
            last = response.text
            if response.status_code == 200 and len(response.json()["runners"]) == 3:
                return dict(json.loads(response.text))
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(0.3)
    raise AssertionError(f"no answer from all three runners within {timeout} s; last: {last}")
