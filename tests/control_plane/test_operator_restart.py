"""An operator killed mid-reconcile and restarted converges with no duplicate or lost children, and
a restart writes nothing to children that are already right."""

from __future__ import annotations

import re
import time
import urllib.request
from typing import Any

import pytest

from autonomy.spec import parse_zone
from tests.k8s_fixtures import KubernetesCluster
from tests.operator_fixtures import OperatorProcess, apply, get_json, wait_for

pytestmark = pytest.mark.control_plane

KINDS = "deployments,services,serviceaccounts,roles,rolebindings,networkpolicies,ingresses"


def zone(name: str, namespace: str) -> dict[str, Any]:
    pods = [{"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}]}]
    pods += [{"name": f"p{i}", "clones": 2, "containers": [{"name": "main", "image": "w"}]} for i in range(4)]
    return parse_zone({"name": name, "pods": pods}).zone_manifest(namespace)


def children(k8s: KubernetesCluster, namespace: str) -> dict[tuple[str, str], str]:
    """(kind, name) -> resourceVersion of every child of every zone in the namespace."""
    items = get_json(k8s, KINDS, "-n", namespace, "-l", "autonomy.computer/zone")["items"]
    return {(i["kind"], i["metadata"]["name"]): i["metadata"]["resourceVersion"] for i in items}


def healthy(operator: OperatorProcess) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{operator.health_port}/healthz", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_killed_mid_reconcile_converges_and_restart_writes_nothing(
    k8s: KubernetesCluster, namespace: str, operator: OperatorProcess, cluster_id: str
) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", cluster_id)
    zones = [f"z{i}" for i in range(6)]
    operator.stop()
    for name in zones:
        apply(k8s, zone(name, namespace))
    # Slow the operator's writes so that the kill lands in the middle of the zones' reconciles.
    operator.start(AUTONOMY_OPERATOR_QPS="10", AUTONOMY_OPERATOR_BURST="1")
    wait_for("the first children", lambda: len(children(k8s, namespace)) >= 3, timeout=60, interval=0.05)
    operator.kill()
    partial = children(k8s, namespace)
    assert 3 <= len(partial) < 6 * 10, "the kill did not land mid-reconcile"

    operator.start()
    for name in zones:
        k8s.kubectl(
            "wait", "--for=condition=Ready", f"zone/{name}", "-n", namespace, "--timeout=120s", timeout=130
        )
    final = children(k8s, namespace)
    expected = set()
    for name in zones:
        expected |= {
            ("Deployment", f"{name}-main-pod"),
            ("Service", f"{name}-main-pod"),
            ("Ingress", f"{name}-main-pod"),
            ("ServiceAccount", f"{name}-node"),
            ("Role", f"{name}-node"),
            ("RoleBinding", f"{name}-node"),
            ("NetworkPolicy", name),
            ("NetworkPolicy", f"{name}-public"),
        }
        expected |= {("Deployment", f"{name}-p{i}") for i in range(4)}
    assert set(final) == expected
    replica_sets = get_json(k8s, "replicasets", "-n", namespace)["items"]
    assert len(replica_sets) == 6 * 5, "a Deployment was rolled out twice"
    pods = get_json(k8s, "pods", "-n", namespace)["items"]
    assert len(pods) == 6 * (1 + 4 * 2)

    # A restart of a converged operator writes nothing to the children.
    zones_before = {
        z: get_json(k8s, "zone", z, "-n", namespace)["metadata"]["resourceVersion"] for z in zones
    }
    operator.stop()
    operator.start()
    wait_for("the restarted operator's liveness endpoint", lambda: healthy(operator), timeout=30)
    # The restarted operator resumes every zone (and so had its chance to write) ...
    wait_for(
        "the zones to be resumed", lambda: operator.current_log().count("Resuming is processed") >= len(zones)
    )
    time.sleep(3)  # ... and folds the initial Deployment events into status refreshes
    assert children(k8s, namespace) == final
    zones_after = {z: get_json(k8s, "zone", z, "-n", namespace)["metadata"]["resourceVersion"] for z in zones}
    assert zones_after == zones_before, "the restart rewrote Zone status or annotations"
    cluster = get_json(k8s, "clusters.autonomy.computer", "autonomy-test")
    assert cluster["status"]["clusterId"] == cluster_id, "the cluster id changed across restarts"
    assert {c["type"]: c["status"] for c in cluster["status"]["conditions"]} == {"Ready": "True"}

    # And it is alive: an edit still rolls out.
    edited = zone("z0", namespace)
    edited["spec"]["pods"][1]["containers"][0]["image"] = "w:2"
    apply(k8s, edited)
    wait_for(
        "the edit after the restart",
        lambda: (
            get_json(k8s, "deployment", "z0-p0", "-n", namespace)["spec"]["template"]["spec"]["containers"][
                0
            ]["image"]
            == "w:2"
        ),
    )
