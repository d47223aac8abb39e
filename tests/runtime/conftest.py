"""Multi-process fixtures: real node processes on loopback sharing one local discovery registry and one
zone CA, made and handed over the way `zone dev` does it (a 0700 directory in AUTONOMY_DEV_CA_DIR)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autonomy.identity import WorkloadId, ZoneAuthority, make_csr, new_private_key, private_key_pem
from autonomy.identity.dev_authority import create_dev_authority
from tests.hygiene import no_leaked_tasks  # noqa: F401 - autouse fixture
from tests.support.llm_fixtures import llm, llm_server  # noqa: F401 - fixtures for the agent tests

NODE_MAIN = Path(__file__).with_name("node_main.py")
CLUSTER = "testcluster"
NAMESPACE = "local"  # what a node without NAMESPACE calls its namespace
ZONE = "testzone"


def make_zone_ca(directory: Path, zone: str = ZONE, cluster: str = CLUSTER) -> Path:
    """A zone CA on disk as `zone dev` makes one; its directory goes in AUTONOMY_DEV_CA_DIR."""
    create_dev_authority(directory, cluster, NAMESPACE, zone)
    return directory


def issue_leaf(authority: ZoneAuthority, workload: WorkloadId) -> tuple[bytes, bytes]:
    """A PEM key and certificate for `workload` signed by `authority`, as a node would get them."""
    key = new_private_key()
    pem = authority.issue(make_csr(key, workload, (workload.dns_name,)), workload, dns_names=(workload.dns_name,))
    return private_key_pem(key), pem


def leaf(authority: ZoneAuthority, workload: WorkloadId, directory: Path) -> dict[str, str]:
    """`issue_leaf` as files (`key`, `cert`: their paths), for a process of its own."""
    key_pem, cert_pem = issue_leaf(authority, workload)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "key.pem").write_bytes(key_pem)
    (directory / "cert.pem").write_bytes(cert_pem)
    return {"key": str(directory / "key.pem"), "cert": str(directory / "cert.pem")}


class NodeProcess:
    def __init__(self, name: str, pod: str, registry: Path, zone: str = ZONE, extra_env: dict | None = None,
                 script: Path | None = None, ca_dir: Path | None = None, stderr: Path | None = None):
        self.script = script or NODE_MAIN
        self.name = name
        self.pod = pod
        self.registry = registry
        self.zone = zone
        self.ca_dir = ca_dir
        self.extra_env = extra_env or {}
        self.stderr = stderr  # a file for the node's log lines (default: the test's own stderr)
        self.process: subprocess.Popen[str] | None = None
        self.http_port = 0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "NODE": self.name, "POD": self.pod, "ZONE": self.zone, "CLUSTER": CLUSTER,
            "POD_IP": "127.0.0.1", "AUTONOMY_DISCOVERY": "local", "AUTONOMY_REGISTRY_DIR": str(self.registry),
            "AUTONOMY_TRANSPORT_PORT": "0", "AUTONOMY_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
        })
        if self.ca_dir is not None:
            env["AUTONOMY_DEV_CA_DIR"] = str(self.ca_dir)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30.0) -> NodeProcess:
        stderr = self.stderr.open("ab") if self.stderr is not None else None
        try:
            self.process = subprocess.Popen([sys.executable, str(self.script)], env=self.env(),
                                            stdout=subprocess.PIPE, stderr=stderr, text=True)
        finally:
            if stderr is not None:
                stderr.close()
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
    def __init__(self, registry: Path, ca_dir: Path) -> None:
        self.registry = registry
        self.ca_dir = ca_dir
        self.processes: list[NodeProcess] = []

    def start(self, name: str, pod: str, **kwargs) -> NodeProcess:
        kwargs.setdefault("ca_dir", self.ca_dir)
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
    zone = LocalZone(tmp_path / "registry", make_zone_ca(tmp_path / "ca"))
    try:
        yield zone
    finally:
        zone.stop_all()


@pytest.fixture
def node_options(local_zone: LocalZone) -> dict:
    """Options for an in-process test driver node that joins the same local zone (and uses its CA)."""
    return dict(registry_dir=local_zone.registry, transport_port=0, transport_host="127.0.0.1", zone=ZONE,
                cluster=CLUSTER, pod="main-pod", discovery="local", http_server=False, dev_ca_dir=local_zone.ca_dir)

