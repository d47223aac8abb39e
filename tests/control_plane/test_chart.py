"""The Helm chart installs with real helm: CRDs, the operator's Deployment and least-privilege RBAC;
and an operator holding only the chart's RBAC reconciles a Zone.

kwok does not run containers, so the installed operator pod cannot do anything; the operator runs
here as a local process authenticated as the chart's ServiceAccount instead.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from autonomy.spec import parse_zone
from tests.k8s_fixtures import KubernetesCluster
from tests.operator_fixtures import REPO, OperatorProcess, apply, get_json, wait_for

pytestmark = pytest.mark.control_plane
CHART = REPO / "charts" / "autonomy"


def test_chart_lints_clean(k8s: KubernetesCluster) -> None:
    result = k8s.helm("lint", str(CHART), "--strict")
    assert "0 chart(s) failed" in result.stdout


def test_values_schema_refuses_bad_values(k8s: KubernetesCluster) -> None:
    result = k8s.helm("template", "x", str(CHART), "--set", "operator.qps=fast", check=False)
    assert result.returncode != 0 and "/operator/qps" in result.stderr


@pytest.fixture
def release(k8s: KubernetesCluster, namespace: str, autonomy_crds: None) -> Iterator[tuple[str, str]]:
    name = f"ac{uuid.uuid4().hex[:6]}"
    cluster = f"helm-{name}"
    k8s.helm(
        "install",
        name,
        str(CHART),
        "-n",
        namespace,
        "--wait=false",
        "--set",
        f"cluster.name={cluster}",
        "--set",
        "cluster.spec.domain=helm.test",
        "--set",
        "image.repository=autonomy/operator",
        "--set",
        "image.tag=test",
    )
    try:
        yield name, cluster
    finally:
        k8s.helm("uninstall", name, "-n", namespace, check=False)
        k8s.kubectl("delete", "clusters.autonomy.computer", cluster, "--ignore-not-found", check=False)


def test_install_creates_the_control_plane_objects(
    k8s: KubernetesCluster, namespace: str, release: tuple[str, str]
) -> None:
    name, cluster = release
    fullname = f"{name}-autonomy"
    for crd in ("zones.autonomy.computer", "clusters.autonomy.computer"):
        assert get_json(k8s, "crd", crd) is not None
    deployment = get_json(k8s, "deployment", fullname, "-n", namespace)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "autonomy/operator:test"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AUTONOMY_OPERATOR_QPS"] == "50" and env["AUTONOMY_OPERATOR_CLUSTER"] == cluster
    assert get_json(k8s, "clusters.autonomy.computer", cluster)["spec"] == {"domain": "helm.test"}
    hooks = k8s.helm("get", "hooks", name, "-n", namespace).stdout
    assert "helm.sh/hook: test" in hooks

    account = f"system:serviceaccount:{namespace}:{fullname}"

    def can(verb: str, resource: str, where: str = "--all-namespaces") -> bool:
        result = k8s.kubectl("auth", "can-i", verb, resource, f"--as={account}", where, check=False)
        return result.stdout.strip() == "yes"

    assert can("patch", "deployments.apps") and can("delete", "deployments.apps")
    assert can("patch", "zones.autonomy.computer/status") and can("get", "secrets")
    assert not can("list", "secrets") and not can("create", "pods") and not can("delete", "namespaces")
    assert not can("create", "clusterroles.rbac.authorization.k8s.io")


def _kubeconfig_for(k8s: KubernetesCluster, namespace: str, account: str, path: Path) -> Path:
    token = k8s.kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout.strip()
    view = json.loads(k8s.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    view["users"] = [{"name": "chart", "user": {"token": token}}]
    view["contexts"][0]["context"]["user"] = "chart"
    path.write_text(yaml.safe_dump(view))
    return path


def test_operator_with_only_the_charts_rbac_reconciles_a_zone(
    k8s: KubernetesCluster,
    namespace: str,
    release: tuple[str, str],
    operator_process: OperatorProcess,
    tmp_path: Path,
) -> None:
    name, cluster = release
    kubeconfig = _kubeconfig_for(k8s, namespace, f"{name}-autonomy", tmp_path / "kubeconfig")
    operator_process.stop()  # one operator at a time
    chart_operator = OperatorProcess(k8s, tmp_path)
    chart_operator.start(
        KUBECONFIG=str(kubeconfig), AUTONOMY_OPERATOR_CLUSTER=cluster, AUTONOMY_OPERATOR_NAMESPACES=namespace
    )
    try:
        cluster_id = wait_for(
            "the chart's Cluster to get its id",
            lambda: (
                (get_json(k8s, "clusters.autonomy.computer", cluster) or {})
                .get("status", {})
                .get("clusterId")
            ),
        )
        zone = parse_zone(
            {
                "name": "helmed",
                "pods": [
                    {
                        "name": "main-pod",
                        "public": True,
                        "clones": 2,
                        "containers": [{"name": "main", "image": "main"}],
                    }
                ],
            }
        )
        apply(k8s, zone.zone_manifest(namespace))
        k8s.kubectl(
            "wait", "--for=condition=Ready", "zone/helmed", "-n", namespace, "--timeout=90s", timeout=100
        )
        status = get_json(k8s, "zone", "helmed", "-n", namespace)["status"]
        assert status["url"] == f"https://{cluster_id}-helmed.helm.test"
        assert get_json(k8s, "deployment", "helmed-main-pod", "-n", namespace)["spec"]["replicas"] == 2
        assert "forbidden" not in chart_operator.logs().lower()
    finally:
        chart_operator.stop()
        operator_process.start()
