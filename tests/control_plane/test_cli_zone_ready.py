"""`autonomy cluster enroll` and `zone deploy --wait` with the operator running: the Zone becomes Ready.

The operator runs as a local process against the suite's control plane (kwok cannot run its image),
exactly as `python -m autonomy_operator` runs in its pod; kwok makes the zone's pods Running.
Images are built for real with the local Docker engine on the debootstrap base.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.control_plane.test_cli_zone import ROOT, cli
from tests.docker_engine import DockerEngine
from tests.k8s_fixtures import KubernetesCluster

pytestmark = [pytest.mark.control_plane, pytest.mark.docker]


@pytest.fixture(scope="module")
def operator(k8s: KubernetesCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    k8s.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    for crd in ("zones.autonomy.computer", "clusters.autonomy.computer"):
        k8s.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=30s")
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "autonomy_operator"],
            env={**k8s.env, "AUTONOMY_OPERATOR_METRICS_PORT": "0", "AUTONOMY_OPERATOR_HEALTH_PORT": "0",
                 "PYTHONUNBUFFERED": "1"},
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    try:
        yield log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_enroll_deploy_wait_ready_show_delete(k8s: KubernetesCluster, namespace: str, operator: Path,
                                             docker_engine: DockerEngine, node_image: str,
                                             tmp_path: Path) -> None:
    enrolled = cli(k8s, tmp_path, "cluster", "enroll", "--no-input", "--namespace", namespace)
    assert enrolled.returncode == 0, enrolled.stderr + operator.read_text()
    settings = yaml.safe_load((tmp_path / "home" / "config.yaml").read_text())
    assert len(settings["cluster_id"]) == 32 and settings["namespace"] == namespace

    started = time.monotonic()
    deployed = cli(k8s, tmp_path, "zone", "deploy", "--wait", "--timeout", "120", node_image=node_image,
                   cwd=ROOT / "examples" / "fanout")
    assert deployed.returncode == 0, deployed.stderr + operator.read_text()[-3000:]
    assert "is Ready after" in deployed.stderr
    zone = json.loads(k8s.kubectl("get", "zone", "fanout", "-n", namespace, "-o", "json").stdout)
    ready = [c for c in zone["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    print(f"zone deploy --wait (with image builds): {time.monotonic() - started:.1f} s")

    shown = cli(k8s, tmp_path, "cluster", "show", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["cluster"] == settings["cluster_id"]
    assert {"namespace": namespace, "name": "fanout", "state": "Ready"}.items() <= next(
        z for z in document["zones"] if z["namespace"] == namespace).items()

    listed = cli(k8s, tmp_path, "zone", "list", "-o", "table")
    header, *rows = listed.stdout.splitlines()
    kubectl_header = k8s.kubectl("get", "zones", "-n", namespace).stdout.splitlines()[0]
    assert header.split() == kubectl_header.split()  # the columns of `kubectl get zones`
    assert rows and rows[0].split()[0] == "fanout"

    deleted = cli(k8s, tmp_path, "zone", "delete", "fanout", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert k8s.kubectl("get", "zone", "fanout", "-n", namespace, check=False).returncode != 0


def test_wait_fails_with_the_zone_conditions(k8s: KubernetesCluster, namespace: str, operator: Path,
                                             tmp_path: Path) -> None:
    """A zone that cannot become Ready within --timeout: exit 6, and the reasons are printed."""
    zone_dir = tmp_path / "slow"
    zone_dir.mkdir()
    (zone_dir / "autonomy.yaml").write_text(
        "name: slow\npods:\n  - name: main-pod\n    clones: 2\n    containers:\n"
        "      - {name: main, image: example.org/never/pulled:1}\n"
    )
    # Pods of this zone are never admitted: a ResourceQuota of zero pods in the namespace.
    k8s.kubectl("create", "quota", "nopods", "--hard=pods=0", "-n", namespace)
    result = cli(k8s, tmp_path, "zone", "deploy", "-n", namespace, "--wait", "--timeout", "8", cwd=zone_dir)
    assert result.returncode == 6, result.stderr + operator.read_text()[-2000:]
    assert "not Ready after 8 s" in result.stderr
    assert "condition Ready=False" in result.stderr
