"""Fixtures of the real-pods tier (DESIGN.md section 6, tier 5): the operator installed by its chart and
running in a pod from its own image, on the real node of `real_cluster`, and zones deployed with the CLI.

Everything is the real thing: the images are built by Docker from the debootstrap base (no pulls), the
operator image is imported into the node's containerd and installed with helm (the chart's own
ServiceAccount and RBAC), and zones go through `autonomy zone deploy`, which imports the images it builds
into the node because the kubeconfig's cluster names the node's containerd.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.docker_engine import ROOT, DockerEngine
from tests.k8s_fixtures import KubernetesCluster, RealCluster
from tests.operator_fixtures import wait_for

OPERATOR_NAMESPACE = "autonomy-system"
OPERATOR_REPO = "autonomy-test/operator"
T = TypeVar("T")


def wait_until(what: str, probe: Callable[[], T | None], timeout: float = 120, interval: float = 0.25) -> T:
    """`wait_for` with the real-pods tier's longer default (image imports and real pod starts)."""
    return wait_for(what, probe, timeout, interval)


def get_json(k8s: KubernetesCluster, *args: str) -> Any:
    result = k8s.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def _operator_source_hash() -> str:
    digest = hashlib.sha256()
    files = [ROOT / "Dockerfile", ROOT / "pyproject.toml", *(ROOT / "runtime").rglob("*.py"),
             *(ROOT / "operator").rglob("*.py")]  # fmt: skip
    for path in sorted(files):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="session")
def operator_image(docker_engine: DockerEngine, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The root Dockerfile built offline on the debootstrap base, tagged by the hash of its sources."""
    tag = f"{OPERATOR_REPO}:{_operator_source_hash()}"
    if docker_engine.run("image", "inspect", tag, check=False).returncode == 0:
        return tag
    context = tmp_path_factory.mktemp("operator-image")
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    for folder in ("runtime", "operator"):
        shutil.copytree(ROOT / folder, context / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(wheelhouse, context / "wheels")
    docker_engine.run("build", "-q", "-t", tag, "--build-arg", f"BASE_IMAGE={docker_engine.base_image}",
                      "--build-arg", "PIP_INSTALL_ARGS=--no-index --find-links /src/wheels", str(context))  # fmt: skip
    return tag


def import_image(real_cluster: RealCluster, ref: str) -> float:
    """`docker save | ctr images import` (what `zone deploy` does for this kind of cluster); seconds taken."""
    from autonomy.cli import docker

    started = time.monotonic()
    docker.containerd_import(ref, str(real_cluster.containerd_socket), "k8s.io", real_cluster.ctr_bin)
    return time.monotonic() - started


@dataclass(frozen=True)
class InstalledOperator:
    release: str
    namespace: str
    image: str
    install_seconds: float


@pytest.fixture(scope="session")
def real_operator(real_cluster: RealCluster, operator_image: str) -> Iterator[InstalledOperator]:
    """The chart installed with helm: CRDs, the Cluster, the operator's ServiceAccount and RBAC, and its
    Deployment running the operator image (imported into the node; never pulled)."""
    k8s = real_cluster.k8s
    import_image(real_cluster, operator_image)
    repository, tag = operator_image.rsplit(":", 1)
    started = time.monotonic()
    result = k8s.helm(
        "install", "autonomy", str(ROOT / "charts" / "autonomy"), "--namespace", OPERATOR_NAMESPACE,
        "--create-namespace", "--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
        "--set", "image.pullPolicy=Never", "--set", "cluster.name=autonomy-test",
        "--set", "operator.healthPort=8081",
        # `big` sized for this 2-core node (the default, 4 CPU, fits no pod here): the agent example needs it.
        "--set-string", "cluster.spec.sizes.big.cpu=1", "--set-string", "cluster.spec.sizes.big.memory=1Gi",
        "--wait", "--timeout", "240s", check=False, timeout=300,
    )  # fmt: skip
    if result.returncode != 0:
        pods = k8s.kubectl("get", "pods", "-n", OPERATOR_NAMESPACE, "-o", "wide", check=False).stdout
        logs = k8s.kubectl("logs", "-n", OPERATOR_NAMESPACE, "deploy/autonomy", "--tail=40", check=False)
        events = k8s.kubectl("get", "events", "-n", OPERATOR_NAMESPACE, check=False).stdout
        pytest.fail(f"helm install failed: {result.stderr}\n{pods}\n{logs.stdout}{logs.stderr}\n{events}",
                    pytrace=False)  # fmt: skip
    installed = InstalledOperator("autonomy", OPERATOR_NAMESPACE, operator_image, time.monotonic() - started)
    wait_until("the Cluster's id from the operator in its pod", lambda: (
        (get_json(k8s, "cluster.autonomy.computer", "autonomy-test") or {}).get("status", {}).get("clusterId")))
    yield installed
    k8s.helm("uninstall", "autonomy", "--namespace", OPERATOR_NAMESPACE, "--wait", "--timeout", "120s", check=False)


@dataclass
class Cli:
    """The `autonomy` CLI as a user runs it, against the real node's kubeconfig."""

    k8s: KubernetesCluster
    env: dict[str, str]

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "autonomy.cli.main", *args]
        result = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=timeout, check=False)
        if check and result.returncode != 0:
            pytest.fail(f"`autonomy {' '.join(args)}` exited {result.returncode}:\n{result.stderr[-4000:]}\n"
                        f"{result.stdout[-2000:]}", pytrace=False)  # fmt: skip
        return result


@pytest.fixture(scope="session")
def cli_env(
    real_cluster: RealCluster, docker_engine: DockerEngine, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    env = dict(real_cluster.k8s.env)
    env["AUTONOMY_HOME"] = str(tmp_path_factory.mktemp("autonomy-home"))
    # A name of this tier's own: test sessions of other checkouts sharing the Docker engine remove
    # `autonomy/node:test-*` images of other sources, and a redeploy rebuilds the app images on it.
    private = f"autonomy-test/realpods-node:{node_image.rsplit(':', 1)[1]}"
    docker_engine.run("tag", node_image, private)
    env["AUTONOMY_NODE_IMAGE"] = private
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def cli(real_cluster: RealCluster, real_operator: InstalledOperator, cli_env: dict[str, str]) -> Cli:
    return Cli(real_cluster.k8s, cli_env)


@pytest.fixture
def zone_namespace(real_cluster: RealCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace on the real cluster, deleted (with what runs in it) afterwards."""
    k8s = real_cluster.k8s
    name = f"rp-{uuid.uuid4().hex[:6]}"
    k8s.kubectl("create", "namespace", name)
    wait_until(f"namespace {name}'s default ServiceAccount",
               lambda: k8s.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0, timeout=30)
    yield name
    k8s.kubectl("delete", "namespace", name, "--wait=false", check=False)
