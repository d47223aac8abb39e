"""Multi-process fixtures: real node processes on loopback sharing one local discovery registry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hygiene import no_leaked_tasks  # noqa: F401 - autouse fixture
from tests.support.llm_fixtures import llm, llm_server  # noqa: F401 - fixtures for the agent tests

NODE_MAIN = Path(__file__).with_name("node_main.py")


class NodeProcess:
    def __init__(self, name: str, pod: str, registry: Path, zone: str = "testzone", extra_env: dict | None = None,
                 script: Path | None = None):
        self.script = script or NODE_MAIN
        self.name = name
        self.pod = pod
        self.registry = registry
        self.zone = zone
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen[str] | None = None
        self.http_port = 0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "NODE": self.name, "POD": self.pod, "ZONE": self.zone, "CLUSTER": "testcluster",
            "POD_IP": "127.0.0.1", "AUTONOMY_DISCOVERY": "local", "AUTONOMY_REGISTRY_DIR": str(self.registry),
            "AUTONOMY_TRANSPORT_PORT": "0", "AUTONOMY_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30.0) -> NodeProcess:
        self.process = subprocess.Popen([sys.executable, str(self.script)], env=self.env(), stdout=subprocess.PIPE,
                                        stderr=None, text=True)
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"node {self.name} exited during start-up with {self.process.wait()}")
            if line.startswith("READY "):
                self.http_port = int(line.split()[2])
                return self
        raise RuntimeError(f"node {self.name} did not start within {timeout} s")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LocalZone:
    def __init__(self, registry: Path) -> None:
        self.registry = registry
        self.processes: list[NodeProcess] = []

    def start(self, name: str, pod: str, **kwargs) -> NodeProcess:
        node = NodeProcess(name, pod, self.registry, **kwargs)
        self.processes.append(node)
        return node.start()

    def stop_all(self) -> None:
        for node in self.processes:
            process = node.process
            if process is None:
                continue
            if process.poll() is None:
                process.kill()
                process.wait(10)
            if process.stdout is not None:
                process.stdout.close()


@pytest.fixture
def local_zone(tmp_path: Path) -> Iterator[LocalZone]:
    zone = LocalZone(tmp_path / "registry")
    try:
        yield zone
    finally:
        zone.stop_all()


@pytest.fixture
def node_options(local_zone: LocalZone) -> dict:
    """Options for an in-process test driver node that joins the same local zone."""
    return dict(registry_dir=local_zone.registry, transport_port=0, transport_host="127.0.0.1", zone="testzone",
                cluster="testcluster", pod="main-pod", discovery="local", http_server=False)

