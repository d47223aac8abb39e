"""`autonomy cluster enroll` on a cluster without autonomy: refused without `--install`; with it, the
chart is installed with the real helm, the Cluster gets its id, the choice is saved, and a second run
changes nothing.

These tests need a cluster with no autonomy CRDs, which the session's shared control plane cannot
promise (other tests install them, and helm will not adopt CRDs that kubectl applied), so they run on a
control plane of their own. kwok runs no container, so the chart's operator pod is only a fake: the
real operator stands in for it as a local process, with the pod's ServiceAccount token and env, as in
test_chart.py. "The operator is there" is, for the CLI as on any cluster, its Deployment existing;
the Cluster's id is assigned by the operator (never by the CLI), and enroll waits for it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s_fixtures import KubernetesCluster, own_control_plane
from tests.operator_fixtures import REPO, OperatorProcess, get_json, wait_for

pytestmark = pytest.mark.control_plane

AUTONOMY = str(Path(sys.executable).with_name("autonomy"))
CONTEXT = "autonomy-test"  # the context of the control plane's kubeconfig
RELEASE, RELEASE_NAMESPACE = "autonomy", "autonomy-system"  # what `enroll --install` installs
CRDS = ("clusters.autonomy.computer", "zones.autonomy.computer")


@pytest.fixture(scope="module")
def own_k8s(k8s_binaries: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubernetesCluster]:
    with own_control_plane(k8s_binaries, tmp_path_factory) as cluster:
        yield cluster


@pytest.fixture
def bare(own_k8s: KubernetesCluster) -> KubernetesCluster:
    """The own control plane without autonomy (whatever ran before): no release, no CRDs."""
    own_k8s.helm("uninstall", RELEASE, "-n", RELEASE_NAMESPACE, "--ignore-not-found", "--wait")
    own_k8s.kubectl("delete", "crd", *CRDS, "--ignore-not-found", "--wait", timeout=90)
    return own_k8s


@pytest.fixture
def user(bare: KubernetesCluster, tmp_path: Path) -> dict[str, str]:
    """The environment of a user whose HOME is a tmp dir, with the built helm on PATH, and whose
    kubeconfig's current context is another, unreachable cluster: only --context can pick ours."""
    config = json.loads(bare.kubeconfig.read_text())
    config["clusters"].append({"name": "elsewhere", "cluster": {"server": "https://127.0.0.1:9"}})
    config["contexts"].append({"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "autonomy-admin"}})
    config["current-context"] = "elsewhere"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps(config))
    env = {
        **bare.env,
        "HOME": str(tmp_path / "home"),
        "KUBECONFIG": str(kubeconfig),
        "PATH": os.pathsep.join([str(Path(bare.helm_bin).parent), os.environ.get("PATH", "")]),
    }
    env.pop("AUTONOMY_HOME", None)  # the default place, under HOME
    return env


def releases(k8s: KubernetesCluster) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(k8s.helm("list", "-n", RELEASE_NAMESPACE, "-o", "json").stdout)
    return listed


def settings_file(env: dict[str, str]) -> Path:
    return Path(env["HOME"]) / ".autonomy" / "config.yaml"


def autonomy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AUTONOMY, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def test_enroll_without_install_refuses_a_cluster_without_crds(bare: KubernetesCluster, user: dict[str, str]) -> None:
    result = autonomy(user, "cluster", "enroll", "--no-input", "--context", CONTEXT)
    assert result.returncode == 5, result.stderr
    assert f"context {CONTEXT} has no autonomy CRDs" in result.stderr
    assert "autonomy cluster enroll --install" in result.stderr
    assert not settings_file(user).exists()
    assert all(get_json(bare, "crd", crd) is None for crd in CRDS)  # nothing installed behind our back


def _operator_for_the_chart(k8s: KubernetesCluster, tmp_path: Path) -> OperatorProcess:
    """The real operator in place of the chart's fake pod: its ServiceAccount's token, its env."""
    deployment = wait_for(
        "the chart's operator Deployment", lambda: get_json(k8s, "deployment", RELEASE, "-n", RELEASE_NAMESPACE)
    )
    pod = deployment["spec"]["template"]["spec"]
    token = k8s.kubectl(
        "create", "token", pod["serviceAccountName"], "-n", RELEASE_NAMESPACE, "--duration=1h"
    ).stdout.strip()
    view = json.loads(k8s.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    view["users"] = [{"name": "operator", "user": {"token": token}}]
    view["contexts"][0]["context"]["user"] = "operator"
    kubeconfig = tmp_path / "operator-kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(view))
    # The pod's env, but the ports: this machine's are OperatorProcess's free ones, not a pod's own.
    env = {
        e["name"]: e["value"] for e in pod["containers"][0]["env"] if "value" in e and not e["name"].endswith("_PORT")
    }
    operator = OperatorProcess(k8s, tmp_path)
    operator.start(KUBECONFIG=str(kubeconfig), **env)
    return operator


def test_enroll_install_installs_the_chart_and_is_idempotent(
    bare: KubernetesCluster, user: dict[str, str], tmp_path: Path
) -> None:
    argv = [AUTONOMY, "cluster", "enroll", "--no-input", "--context", CONTEXT, "--install", "--timeout", "120"]
    enroll = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=user)
    operator: OperatorProcess | None = None
    try:
        operator = _operator_for_the_chart(bare, tmp_path)
        _, stderr = enroll.communicate(timeout=240)
    finally:
        if enroll.poll() is None:
            enroll.kill()
            enroll.communicate()
        if operator is not None:
            operator.stop()
    assert enroll.returncode == 0, stderr + (operator.logs()[-3000:] if operator else "")

    (release,) = releases(bare)
    chart = yaml.safe_load((REPO / "charts" / "autonomy" / "Chart.yaml").read_text())
    assert (release["name"], release["status"], release["revision"]) == (RELEASE, "deployed", "1")
    assert release["chart"] == f"autonomy-{chart['version']}"
    for crd in CRDS:
        conditions = {c["type"]: c["status"] for c in get_json(bare, "crd", crd)["status"]["conditions"]}
        assert conditions["Established"] == "True"
    assert get_json(bare, "deployment", RELEASE, "-n", RELEASE_NAMESPACE) is not None
    (cluster,) = get_json(bare, "clusters.autonomy.computer")["items"]
    cluster_id = cluster["status"]["clusterId"]
    assert re.fullmatch(r"[0-9a-f]{32}", cluster_id)
    assert f"enrolled: cluster {cluster_id} (context {CONTEXT})" in stderr

    saved = yaml.safe_load(settings_file(user).read_text())
    assert saved == {
        "context": CONTEXT,
        "kubeconfig": user["KUBECONFIG"],
        "cluster_id": cluster_id,
        "cluster_name": cluster["metadata"]["name"],
    }
    # Later commands use the saved context, not the kubeconfig's current one.
    shown = autonomy(user, "cluster", "show", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["cluster"] == cluster_id and json.loads(shown.stdout)["context"] == CONTEXT

    # Again, with the operator gone: nothing to install, nothing to wait for, the same result.
    saved_text = settings_file(user).read_text()
    again = autonomy(user, "cluster", "enroll", "--no-input", "--context", CONTEXT, "--install", "--timeout", "5")
    assert again.returncode == 0, again.stderr
    assert "helm install" not in again.stderr
    assert releases(bare) == [release]  # not upgraded: still revision 1
    (same,) = get_json(bare, "clusters.autonomy.computer")["items"]
    assert same["status"]["clusterId"] == cluster_id
    assert settings_file(user).read_text() == saved_text
