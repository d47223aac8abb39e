"""`zone dev` with Docker: each pod clone is one network namespace, as in Kubernetes.

A pod with a container that needs Docker (here a sidecar image) runs in Docker whole: a sandbox
container per clone holds the namespace and every container of the pod joins it. These tests prove
that a node and its sidecar talk over localhost, that clones of one pod bind the same port without
colliding, that nodes in containers and nodes left as local processes find each other and talk gRPC,
and that a stop (Ctrl-C, or zone dev killed outright) leaves no process, container or network.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docker_engine import DockerEngine
from tests.support.scripted_llm import ScriptedLLM
from tests.zone_dev_support import (
    AGENT,
    DevRun,
    ask_agent_example,
    docker_objects,
    script_agent_example,
    wait_no_docker_objects,
)

pytestmark = pytest.mark.docker

# A sidecar that answers with the NODE of its pod, on port 9000 of the pod's localhost only.
SIDECAR = """
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["NODE"].encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", 9000), Handler).serve_forever()
"""

# The main node: asks its own sidecar, and ships a worker to every other node that asks that node's.
MAIN = """
import json, os, uuid
import httpx
from fastapi import FastAPI
from autonomy import HttpServer, Node, NodeDep, Zone

async def ask_sidecar():
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get("http://localhost:9000/")).text
    except httpx.HTTPError as error:
        return f"unreachable: {type(error).__name__}"

class Probe:
    async def handle_message(self, context, message):
        answer = {"node": os.environ["NODE"], "pod_ip": os.environ["POD_IP"], "sidecar": await ask_sidecar()}
        await context.reply(json.dumps(answer))

app = FastAPI()

@app.get("/probe")
async def probe(node: NodeDep):
    others = sorted((r for r in await Zone.nodes(node) if r.name != node.name), key=lambda r: r.name)
    answers = {}
    worker = f"probe-{uuid.uuid4().hex[:8]}"
    for runner in others:
        await runner.start_worker(worker, Probe())
        try:
            answers[runner.name] = json.loads(await runner.send_and_receive(worker, "?", timeout=30))
        finally:
            await runner.stop_worker(worker)
    return {"me": os.environ["NODE"], "pod_ip": os.environ["POD_IP"], "sidecar": await ask_sidecar(), "others": answers}

Node.start(http_server=HttpServer(app=app))
"""


def _zone(root: Path, name: str, base_image: str, runner_clones: int = 2, local_clones: int = 1) -> Path:
    for image, code in (("main", MAIN), ("runner", "from autonomy import Node\nNode.start()\n")):
        (root / "images" / image).mkdir(parents=True)
        (root / "images" / image / "main.py").write_text(code)
    sidecar = {"name": "web", "image": base_image, "args": ["python3", "-c", SIDECAR]}
    pods: list[dict[str, Any]] = [
        {"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}, sidecar]},
        {"name": "runner-pod", "clones": runner_clones, "containers": [{"name": "runner", "image": "runner"}, sidecar]},
    ]
    if local_clones:  # node containers only: local processes, no Docker
        pods.append({"name": "local-pod", "clones": local_clones, "containers": [{"name": "n", "image": "runner"}]})
    (root / "autonomy.yaml").write_text(yaml.safe_dump({"name": name, "pods": pods}))
    return root / "autonomy.yaml"


def _probe_ok(expected_nodes: int) -> Any:
    def accept(response: Any) -> Any:
        if response.status_code != 200:
            return None
        body = response.json()
        return body if len(body["others"]) == expected_nodes - 1 else None

    return accept


def test_each_pod_clone_is_one_network_namespace(docker_engine: DockerEngine, node_image: str, tmp_path: Path) -> None:
    zone = "pods"
    config = _zone(tmp_path, zone, docker_engine.base_image, runner_clones=2, local_clones=2)
    run = DevRun(config, env={"AUTONOMY_NODE_IMAGE": node_image})
    try:
        body = run.wait_for("/probe", _probe_ok(5), timeout=180)
        others = body["others"]
        assert sorted(others) == ["pods-local-pod-0", "pods-local-pod-1", "pods-runner-pod-0", "pods-runner-pod-1"]
        # The node reaches its own sidecar on localhost, and so does each runner clone: both clones bind
        # port 9000 in their own namespace.
        assert body["sidecar"] == "pods-main-pod-0"
        assert others["pods-runner-pod-0"]["sidecar"] == "pods-runner-pod-0"
        assert others["pods-runner-pod-1"]["sidecar"] == "pods-runner-pod-1"
        # One address per pod clone (its sandbox's); nodes left as local processes listen on the
        # network's gateway: every node reached every other over gRPC, container or not.
        docker_ips = {body["pod_ip"], others["pods-runner-pod-0"]["pod_ip"], others["pods-runner-pod-1"]["pod_ip"]}
        assert len(docker_ips) == 3 and not any(ip.startswith("127.") for ip in docker_ips)
        gateway = {others["pods-local-pod-0"]["pod_ip"], others["pods-local-pod-1"]["pod_ip"]}
        (network,) = docker_objects(zone)["networks"]
        assert gateway == {_gateway(docker_engine, network)}

        containers = docker_objects(zone)["containers"]
        assert len(containers) == 3 + 6  # a sandbox per Docker pod clone, and its two containers
        main = next(name for name in containers if name.startswith("autonomy-dev-pods-main-pod-0-main-"))
        sandbox = next(name for name in containers if re.fullmatch(r"autonomy-dev-pods-main-pod-0-[0-9a-f]{8}", name))
        network_mode = docker_engine.run("inspect", "--format", "{{.HostConfig.NetworkMode}}", main).stdout.strip()
        assert network_mode == f"container:{_id(docker_engine, sandbox)}"
        ports = docker_engine.run("port", sandbox, "8000").stdout
        assert f"127.0.0.1:{run.port}" in ports  # the public pod's node on --port
        # A clone whose sandbox dies restarts whole (a new namespace, its containers in it), as a
        # Kubernetes pod whose sandbox died; the zone finds its node again.
        runner1 = next(name for name in containers if re.fullmatch(r"autonomy-dev-pods-runner-pod-1-[0-9a-f]{8}", name))
        killed = _id(docker_engine, runner1)
        docker_engine.run("kill", runner1)
        run.wait_for("/probe", lambda r: _restarted(r, killed, _id(docker_engine, runner1)), timeout=90)
        assert "runner-pod[1]: its sandbox exited" in run.output()
        # The pods of node containers only stayed local processes.
        local = {env["NODE"] for env in run.marked_pids().values() if env.get("AUTONOMY_TRANSPORT_HOST") in gateway}
        assert local == {"pods-local-pod-0", "pods-local-pod-1"}
        assert "3 pod(s) in Docker" in run.output()
        run.wait_output("\nrunner-pod/web[1] ")  # the sidecars' logs too, prefixed by pod, container and clone

        assert run.stop(signal.SIGINT) == 0
        run.wait_none_left()
        assert docker_objects(zone) == {"containers": [], "networks": []}
        assert "stopped" in run.output()
    finally:
        run.cleanup()
        _remove_zone(docker_engine, zone)


def test_agent_example_as_containers_of_one_pod(docker_engine: DockerEngine, node_image: str, tmp_path: Path) -> None:
    """`--docker`: the agent's node and its MCP server are containers of one pod, on its localhost:8001."""
    gateway = _gateway(docker_engine, "bridge")  # where host.docker.internal leads from a pod
    llm = ScriptedLLM(host=gateway).start()
    try:
        script_agent_example(llm.script)
        secrets = tmp_path / "secrets.yaml"
        secrets.write_text(f"OPENAI_API_KEY: test\nOPENAI_BASE_URL: http://host.docker.internal:{llm.port}/v1\n")
        run = DevRun(
            AGENT / "autonomy.yaml", "--docker", "--secrets", str(secrets), env={"AUTONOMY_NODE_IMAGE": node_image}
        )
        try:
            ask_agent_example(run, llm.script, timeout=180)
            containers = docker_objects("agent")["containers"]
            assert len(containers) == 3 and sum("-main-pod-0-tools-" in name for name in containers) == 1
            assert run.stop(signal.SIGTERM) == 0
            run.wait_none_left()
            assert docker_objects("agent") == {"containers": [], "networks": []}
        finally:
            run.cleanup()
            _remove_zone(docker_engine, "agent")
    finally:
        llm.stop()


def test_killing_zone_dev_leaves_no_container_and_the_next_run_removes_its_network(
    docker_engine: DockerEngine, node_image: str, tmp_path: Path
) -> None:
    zone = "killed"
    config = _zone(tmp_path / "a", zone, docker_engine.base_image, runner_clones=1, local_clones=0)
    run = DevRun(config, env={"AUTONOMY_NODE_IMAGE": node_image})
    try:
        run.wait_for("/probe", _probe_ok(2), timeout=180)
        assert len(docker_objects(zone)["containers"]) == 2 * 3  # two pods: a sandbox, a node, a sidecar
        run.stop(signal.SIGKILL)
        run.wait_none_left(timeout=30)  # docker run clients die with zone dev, and take their containers along
        # Docker removes a --rm container just after its client has gone: wait for that, a bounded time.
        deadline = time.monotonic() + 30
        while (left := docker_objects(zone))["containers"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left["containers"] == [] and len(left["networks"]) == 1  # only Docker can tell a network is unused
    finally:
        run.cleanup()
    # The next zone dev, of any zone, removes what a zone dev that is gone left behind.
    after = DevRun(
        _zone(tmp_path / "b", "other", docker_engine.base_image, runner_clones=1, local_clones=0),
        env={"AUTONOMY_NODE_IMAGE": node_image},
    )
    try:
        after.wait_for("/probe", _probe_ok(2), timeout=180)
        wait_no_docker_objects(zone)
        assert "left behind by a zone dev that is gone" in after.output()
        assert after.stop() == 0
        wait_no_docker_objects("other")
    finally:
        after.cleanup()
        _remove_zone(docker_engine, zone)
        _remove_zone(docker_engine, "other")


def _restarted(response: Any, killed: str, sandbox_now: str) -> bool:
    body = _probe_ok(5)(response)
    answer = body["others"].get("pods-runner-pod-1", {}) if body else {}
    return sandbox_now not in ("", killed) and answer.get("sidecar") == "pods-runner-pod-1"


def _gateway(docker: DockerEngine, network: str) -> str:
    """The network's gateway address. Some dockerd builds (Debian's on a fresh machine) list no Gateway in
    the default bridge's IPAM config: then it is the bridge interface's own address."""
    template = "{{range .IPAM.Config}}{{.Gateway}} {{end}}|{{index .Options \"com.docker.network.bridge.name\"}}"
    gateways, _, bridge = docker.run("network", "inspect", "--format", template, network).stdout.strip().partition("|")
    if gateways.split():
        return gateways.split()[0]
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", bridge or "docker0"], capture_output=True,
                           text=True, check=True).stdout
    found = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", shown)
    assert found, f"network {network!r} has no gateway in its IPAM config and its bridge no IPv4 address: {shown!r}"
    return found.group(1)


def _id(docker: DockerEngine, name: str) -> str:
    """The container's id; "" while there is none of that name."""
    return docker.run("inspect", "--format", "{{.Id}}", name, check=False).stdout.strip()


def _remove_zone(docker: DockerEngine, zone: str) -> None:
    """Whatever a failed test left of `zone` in Docker, and the images zone dev built for it (it keeps
    them for quick rebuilds; here they would only hold on to node images of earlier sources)."""
    left = docker_objects(zone)
    if left["containers"]:
        docker.run("rm", "-f", *left["containers"], check=False)
    for network in left["networks"]:
        docker.run("network", "rm", network, check=False)
    images = docker.run("image", "ls", "--format", "{{.Repository}}", f"autonomy-dev-{zone}-*", check=False)
    if images.stdout.split():
        docker.run("image", "rm", *images.stdout.split(), check=False)
