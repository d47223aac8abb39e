"""The node image on a read-only root filesystem, as the operator runs zone pods (readOnlyRootFilesystem,
every capability dropped, no privilege escalation): it becomes ready, and an agent with long-term memory
answers and keeps its conversation in AUTONOMY_DATA_DIR.

Only /tmp, /workspace and /var/lib/autonomy are writable (the operator's emptyDirs; tmpfs here).
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.docker_engine import DockerEngine
from tests.support.scripted_llm import Reply, ScriptedLLM

pytestmark = pytest.mark.docker

# An agent that remembers, and a worker, on a node with local discovery (its registry in /tmp).
NODE_MAIN = """
from autonomy import Agent, Model, Node

class Echo:
    async def handle_message(self, context, message):
        await context.reply("echo: " + message)

async def main(node):
    await node.start_worker("echo", Echo())
    assert await node.send_and_receive("echo", "hi") == "echo: hi"
    await Agent.start(node=node, name="helper", instructions="Answer briefly.", model=Model("scripted"),
                      enable_long_term_memory=True)

Node.start(main)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def scripted_llm() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM().start()  # on the host's loopback, which the container shares (--network host)
    yield server
    server.stop()


def _wait_ready(url: str, logs: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(0.2)
    raise AssertionError(f"not ready after {timeout} s ({last}); container output:\n{logs}")


def test_node_image_serves_an_agent_on_a_read_only_root(
    docker_engine: DockerEngine, node_image: str, scripted_llm: ScriptedLLM
) -> None:
    scripted_llm.script.when("hello", Reply(text="hello back"))
    port = _free_port()
    name = f"autonomy-test-ro-{uuid.uuid4().hex[:8]}"
    docker_engine.run(
        "run", "-d", "--name", name, "--network", "host",
        "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/workspace", "--tmpfs", "/var/lib/autonomy",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "-e", "DEFAULT_HOST_HTTP=127.0.0.1", "-e", f"DEFAULT_PORT_HTTP={port}",
        "-e", "AUTONOMY_DISCOVERY=local", "-e", "AUTONOMY_TRANSPORT_PORT=0", "-e", "POD_IP=127.0.0.1",
        "-e", "ZONE=ro", "-e", "CLUSTER=test", "-e", "POD=main-pod", "-e", "NODE=ro-main-pod-0",
        "-e", f"OPENAI_BASE_URL={scripted_llm.base_url}", "-e", "OPENAI_API_KEY=test",
        node_image, "python", "-c", NODE_MAIN,
    )
    try:
        logs = _Logs(docker_engine, name)
        _wait_ready(f"http://127.0.0.1:{port}/readyz", logs)
        # The root really is read-only: the test would prove nothing otherwise.
        denied = docker_engine.run("exec", name, "touch", "/app/x", check=False)
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr

        response = httpx.post(f"http://127.0.0.1:{port}/agents/helper", json={"message": "hello"}, timeout=30)
        assert response.status_code == 200, f"{response.text}\n{logs}"
        assert response.json()[-1]["content"]["text"] == "hello back"
        # Long-term memory went where the image says, on the writable volume.
        stored = docker_engine.run("exec", name, "sh", "-c", 'ls "$AUTONOMY_DATA_DIR"').stdout.split()
        assert "memory.sqlite" in stored
        assert docker_engine.run("exec", name, "sh", "-c", 'echo "$HOME"').stdout.strip() == "/var/lib/autonomy"
        # What upstream apps and tools expect to write to is writable by the node's user.
        docker_engine.run("exec", name, "touch", "/tmp/x", "/workspace/x", "/var/lib/autonomy/written")
        assert "Traceback" not in str(logs)
    finally:
        docker_engine.run("rm", "-f", name, check=False)


class _Logs:
    """The container's output, read when shown (in a failure message)."""

    def __init__(self, engine: DockerEngine, name: str) -> None:
        self.engine, self.name = engine, name

    def __str__(self) -> str:
        result = self.engine.run("logs", "--tail", "60", self.name, check=False)
        return result.stdout + result.stderr
