"""The operator image (the root Dockerfile), built offline on the debootstrap base, reconciling the
suite's control plane from inside its container: it gives the Cluster its id."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker_engine import ROOT, DockerEngine
from tests.k8s_fixtures import KubernetesCluster

pytestmark = [pytest.mark.docker, pytest.mark.control_plane]


@pytest.fixture(scope="module")
def operator_image(docker_engine: DockerEngine, wheelhouse: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    context = tmp_path_factory.mktemp("operator-image")
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    for folder in ("runtime", "operator"):
        shutil.copytree(ROOT / folder, context / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(wheelhouse, context / "wheels")
    tag = f"autonomy-test/operator:{uuid.uuid4().hex[:8]}"
    docker_engine.run("build", "-q", "-t", tag, "--build-arg", f"BASE_IMAGE={docker_engine.base_image}",
                      "--build-arg", "PIP_INSTALL_ARGS=--no-index --find-links /src/wheels", str(context))
    yield tag
    docker_engine.run("rmi", "-f", tag, check=False)


def test_operator_image_is_non_root_and_has_the_operator(docker_engine: DockerEngine, operator_image: str) -> None:
    probe = "import os, autonomy_operator, autonomy; print(os.getuid(), autonomy.__version__)"
    out = docker_engine.run("run", "--rm", "--entrypoint", "python", operator_image, "-c", probe).stdout.split()
    assert out == ["10001", "0.1.0"]
    # No test CA and no wheels were left in the image.
    listing = docker_engine.run("run", "--rm", "--entrypoint", "sh", operator_image, "-c",
                                "ls /src 2>/dev/null; ls /opt/autonomy").stdout
    assert "wheels" not in listing


def test_operator_container_reconciles_the_cluster(docker_engine: DockerEngine, operator_image: str,
                                                  k8s: KubernetesCluster, tmp_path: Path) -> None:
    k8s.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    k8s.kubectl("wait", "--for=condition=Established", "crd/clusters.autonomy.computer", "--timeout=30s")
    name = f"img-{uuid.uuid4().hex[:6]}"
    k8s.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "autonomy.computer/v1alpha1", "kind": "Cluster", "metadata": {"name": name}, "spec": {}}))
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(k8s.kubeconfig, kubeconfig)
    kubeconfig.chmod(0o644)  # the container's user (10001) reads it
    container = f"autonomy-test-operator-{uuid.uuid4().hex[:6]}"
    docker_engine.run("run", "-d", "--name", container, "--network", "host", "-v", f"{kubeconfig}:/kube/config:ro",
                      "-e", "KUBECONFIG=/kube/config", "-e", "AUTONOMY_OPERATOR_METRICS_PORT=0",
                      "-e", "AUTONOMY_OPERATOR_HEALTH_PORT=0", operator_image)
    try:
        deadline = time.monotonic() + 60
        cluster_id = ""
        while time.monotonic() < deadline and not cluster_id:
            got = json.loads(k8s.kubectl("get", "cluster.autonomy.computer", name, "-o", "json").stdout)
            cluster_id = got.get("status", {}).get("clusterId", "")
            time.sleep(0.25)
        logs = docker_engine.run("logs", container, check=False)
        assert len(cluster_id) == 32, logs.stdout + logs.stderr
    finally:
        docker_engine.run("rm", "-f", container, check=False)
        k8s.kubectl("delete", "cluster.autonomy.computer", name, "--wait=false", check=False)
