"""Fixtures for the operator's control-plane tests: the CRDs, a Cluster, and the operator itself
run as a local process (`python -m autonomy_operator` with the test KUBECONFIG), as it would run in
its pod. kwok cannot run the operator's image, so the process is the real thing here."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.k8s_fixtures import KubernetesCluster

REPO = Path(__file__).resolve().parents[1]
CLUSTER_NAME = "autonomy-test"
DOMAIN = "zones.test"
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60, interval: float = 0.25) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def get_json(k8s: KubernetesCluster, *args: str) -> Any:
    result = k8s.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def apply(
    k8s: KubernetesCluster, manifest: dict[str, Any], check: bool = True
) -> subprocess.CompletedProcess[str]:
    return k8s.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest), check=check)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OperatorProcess:
    """The operator as a subprocess; `kill` is SIGKILL (no cleanup), `stop` is an orderly SIGTERM."""

    def __init__(self, k8s: KubernetesCluster, log_dir: Path) -> None:
        self.k8s = k8s
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.health_port = 0

    def start(self, **env: str) -> None:
        self.starts += 1
        self.health_port = free_port()
        environ = {
            **self.k8s.env,
            "AUTONOMY_OPERATOR_CLUSTER": CLUSTER_NAME,
            "AUTONOMY_OPERATOR_METRICS_PORT": "0",
            "AUTONOMY_OPERATOR_HEALTH_PORT": str(self.health_port),
            "AUTONOMY_OPERATOR_QPS": "200",
            "AUTONOMY_OPERATOR_BURST": "400",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        log = (self.log_dir / f"operator-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autonomy_operator"],
            env=environ,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("operator-*.log")))

    def current_log(self) -> str:
        return (self.log_dir / f"operator-{self.starts}.log").read_text(errors="replace")

    def ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.start()


@pytest.fixture(scope="session")
def autonomy_crds(k8s: KubernetesCluster) -> None:
    k8s.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    for crd in ("zones.autonomy.computer", "clusters.autonomy.computer"):
        k8s.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=30s")


@pytest.fixture(scope="session")
def autonomy_cluster(k8s: KubernetesCluster, autonomy_crds: None) -> str:
    apply(
        k8s,
        {
            "apiVersion": "autonomy.computer/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": CLUSTER_NAME},
            "spec": {"domain": DOMAIN},
        },
    )
    return CLUSTER_NAME


@pytest.fixture(scope="session")
def operator_process(
    k8s: KubernetesCluster, autonomy_cluster: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(k8s, tmp_path_factory.mktemp("operator"))
    process.start()
    try:
        wait_for(
            "the Cluster's clusterId",
            lambda: (
                (get_json(k8s, "clusters.autonomy.computer", CLUSTER_NAME) or {})
                .get("status", {})
                .get("clusterId")
            ),
            timeout=60,
        )
        yield process
    finally:
        process.stop()
        if os.environ.get("AUTONOMY_TEST_SHOW_OPERATOR_LOG"):
            print(process.logs())


@pytest.fixture
def operator(operator_process: OperatorProcess) -> OperatorProcess:
    """The running operator (restarted if a previous test left it stopped)."""
    operator_process.ensure_running()
    return operator_process


@pytest.fixture
def cluster_id(k8s: KubernetesCluster, operator: OperatorProcess) -> str:
    return str(get_json(k8s, "clusters.autonomy.computer", CLUSTER_NAME)["status"]["clusterId"])
