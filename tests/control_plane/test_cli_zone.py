"""`autonomy zone deploy|list|delete` against the real control plane, images built with real Docker.

The CLI runs as a subprocess, as users run it, with the suite's kubeconfig. The Zone CRDs come from
crds/ (generated from autonomy.spec). Becoming Ready needs the operator; that part is in
test_cli_zone_ready.py once the operator runs in the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docker_engine import DockerEngine
from tests.k8s_fixtures import KubernetesCluster

pytestmark = [pytest.mark.control_plane, pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
AUTONOMY = str(Path(sys.executable).with_name("autonomy"))


@pytest.fixture(scope="module")
def crds(k8s: KubernetesCluster) -> None:
    for crd in sorted((ROOT / "crds").glob("*.yaml")):
        k8s.kubectl("apply", "--server-side", "-f", str(crd))
    k8s.kubectl("wait", "--for=condition=Established", "crd/zones.autonomy.computer",
                "crd/clusters.autonomy.computer", "--timeout=30s")


def cli(k8s: KubernetesCluster, tmp_path: Path, *args: str, node_image: str | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**k8s.env, "AUTONOMY_HOME": str(tmp_path / "home")}
    if node_image:
        env["AUTONOMY_NODE_IMAGE"] = node_image
    return subprocess.run([AUTONOMY, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600, check=False)


def test_deploy_list_delete(k8s: KubernetesCluster, namespace: str, crds: None, docker_engine: DockerEngine,
                            node_image: str, tmp_path: Path) -> None:
    zone_dir = tmp_path / "fanout"
    subprocess.run(["cp", "-r", str(ROOT / "examples" / "fanout"), str(zone_dir)], check=True)
    (zone_dir / "secrets.yaml").write_text("API_KEY: s3cret\n")

    result = cli(k8s, tmp_path, "zone", "deploy", "-n", namespace, node_image=node_image, cwd=zone_dir)
    assert result.returncode == 0, result.stderr

    zone = json.loads(k8s.kubectl("get", "zone", "fanout", "-n", namespace, "-o", "json").stdout)
    images = {c["name"]: c["image"] for p in zone["spec"]["pods"] for c in p["containers"]}
    assert set(images) == {"main", "runner"}
    for name, ref in images.items():
        assert ref.startswith(f"autonomy.local/fanout-{name}:")  # built here, tagged by content
        assert docker_engine.run("image", "inspect", ref, check=False).returncode == 0
    secret = json.loads(k8s.kubectl("get", "secret", "fanout-secrets", "-n", namespace, "-o", "json").stdout)
    assert set(secret["data"]) == {"API_KEY"}

    # Deploying again without changes keeps the same image refs (no needless rollout).
    again = cli(k8s, tmp_path, "zone", "deploy", "-n", namespace, node_image=node_image, cwd=zone_dir)
    assert again.returncode == 0, again.stderr
    zone2 = json.loads(k8s.kubectl("get", "zone", "fanout", "-n", namespace, "-o", "json").stdout)
    assert zone2["metadata"]["generation"] == zone["metadata"]["generation"]

    listed = cli(k8s, tmp_path, "zone", "list", "-n", namespace, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert [z["metadata"]["name"] for z in json.loads(listed.stdout)] == ["fanout"]
    table = cli(k8s, tmp_path, "zone", "list", "-n", namespace)
    assert table.stdout.splitlines()[0].split()[0] == "NAME" and "fanout" in table.stdout

    refused = cli(k8s, tmp_path, "zone", "delete", "fanout", "-n", namespace)  # no --yes, no terminal
    assert refused.returncode == 2
    deleted = cli(k8s, tmp_path, "zone", "delete", "-n", namespace, "--yes", cwd=zone_dir)
    assert deleted.returncode == 0, deleted.stderr
    assert k8s.kubectl("get", "zone", "fanout", "-n", namespace, check=False).returncode != 0
    assert k8s.kubectl("get", "secret", "fanout-secrets", "-n", namespace, check=False).returncode != 0
    missing = cli(k8s, tmp_path, "zone", "delete", "fanout", "-n", namespace, "--yes")
    assert missing.returncode == 4


@pytest.mark.skipif(os.environ.get("AUTONOMY_TEST_KUBECONFIG") is not None, reason="suite control plane only")
def test_dry_run_output_is_accepted_by_the_apiserver(k8s: KubernetesCluster, namespace: str, crds: None,
                                                     tmp_path: Path) -> None:
    """What --dry-run prints is valid for the cluster (server-side dry run through kubectl)."""
    result = cli(k8s, tmp_path, "zone", "deploy", "--dry-run", "-n", namespace, "--image", "main=r/m:1",
                 "--image", "runner=r/r:1", cwd=ROOT / "examples" / "fanout")
    assert result.returncode == 0, result.stderr
    check = k8s.kubectl("apply", "--dry-run=server", "-f", "-", input=result.stdout)
    assert "zone.autonomy.computer/fanout created (server dry run)" in check.stdout
