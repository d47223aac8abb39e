"""The operator with only the chart's ServiceAccount and RBAC: new zones get their children at once (a
Role before its RoleBinding), objects it did not create are never adopted (a collision stops the whole
zone before anything is written), and a transient API failure shows in the Zone's status and as an
Event, and is retried in seconds.

kwok runs no containers, so the operator runs as a local process authenticated with a token of the
chart's ServiceAccount, as in tests/control_plane/test_chart.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from autonomy.spec import parse_zone
from tests.k8s_fixtures import KubernetesCluster
from tests.operator_fixtures import REPO, OperatorProcess, apply, get_json, wait_for

pytestmark = pytest.mark.control_plane
CHART = REPO / "charts" / "autonomy"
KINDS = "deployments,services,serviceaccounts,roles,rolebindings,networkpolicies,ingresses"


@dataclass(frozen=True)
class ChartOperator:
    namespace: str
    cluster: str
    process: OperatorProcess


def _namespace(k8s: KubernetesCluster) -> str:
    name = f"owned-{uuid.uuid4().hex[:6]}"
    k8s.kubectl("create", "namespace", name)
    deadline = time.monotonic() + 30
    while k8s.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode != 0:
        assert time.monotonic() < deadline, f"namespace {name}: no default ServiceAccount"
        time.sleep(0.1)
    return name


def _kubeconfig_for(k8s: KubernetesCluster, namespace: str, account: str, path: Path) -> Path:
    token = k8s.kubectl("create", "token", account, "-n", namespace, "--duration=2h").stdout.strip()
    view = json.loads(k8s.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    view["users"] = [{"name": "chart", "user": {"token": token}}]
    view["contexts"][0]["context"]["user"] = "chart"
    path.write_text(yaml.safe_dump(view))
    return path


@pytest.fixture(scope="module")
def chart_operator(
    k8s: KubernetesCluster,
    autonomy_crds: None,
    operator_process: OperatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ChartOperator]:
    namespace = _namespace(k8s)
    release = f"ow{uuid.uuid4().hex[:6]}"
    cluster = f"helm-{release}"
    tmp = tmp_path_factory.mktemp("chart-operator")
    # One operator at a time; and the chart's Cluster gets its id from the chart's operator only, so
    # that id says this operator is up and watching.
    operator_process.stop()
    k8s.helm(
        "install", release, str(CHART), "-n", namespace, "--wait=false",
        "--set", f"cluster.name={cluster}", "--set", "cluster.spec.domain=owned.test",
        "--set", "image.repository=autonomy/operator", "--set", "image.tag=test",
    )  # fmt: skip
    process = OperatorProcess(k8s, tmp)
    try:
        kubeconfig = _kubeconfig_for(k8s, namespace, f"{release}-autonomy", tmp / "kubeconfig")
        process.start(
            KUBECONFIG=str(kubeconfig), AUTONOMY_OPERATOR_CLUSTER=cluster, AUTONOMY_OPERATOR_NAMESPACES=namespace
        )
        wait_for(
            "the chart's Cluster to get its id",
            lambda: (get_json(k8s, "clusters.autonomy.computer", cluster) or {}).get("status", {}).get("clusterId"),
        )
        yield ChartOperator(namespace, cluster, process)
    finally:
        process.stop()
        k8s.helm("uninstall", release, "-n", namespace, check=False)
        k8s.kubectl("delete", "clusters.autonomy.computer", cluster, "--ignore-not-found", check=False)
        k8s.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
        operator_process.start()


def zone_manifest(name: str, namespace: str) -> dict[str, Any]:
    pods = [
        {"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}]},
        {"name": "runner", "clones": 2, "containers": [{"name": "main", "image": "runner"}]},
    ]
    return parse_zone({"name": name, "pods": pods}).zone_manifest(namespace)


def expected_children(name: str) -> set[tuple[str, str]]:
    return {
        ("ServiceAccount", f"{name}-node"),
        ("Role", f"{name}-node"),
        ("RoleBinding", f"{name}-node"),
        ("NetworkPolicy", name),
        ("NetworkPolicy", f"{name}-public"),
        ("Service", f"{name}-main-pod"),
        ("Ingress", f"{name}-main-pod"),
        ("Deployment", f"{name}-main-pod"),
        ("Deployment", f"{name}-runner"),
    }


def children(k8s: KubernetesCluster, namespace: str, zone: str) -> set[tuple[str, str]]:
    """(kind, name) of every object of the namespace that names `zone` in its labels or owner."""
    items = get_json(k8s, KINDS, "-n", namespace)["items"]
    found = set()
    for item in items:
        meta = item["metadata"]
        owners = {r.get("name") for r in meta.get("ownerReferences") or [] if r.get("kind") == "Zone"}
        if (meta.get("labels") or {}).get("autonomy.computer/zone") == zone or zone in owners:
            found.add((item["kind"], meta["name"]))
    return found


def condition(k8s: KubernetesCluster, namespace: str, name: str, kind: str) -> dict[str, Any] | None:
    zone = get_json(k8s, "zone", name, "-n", namespace) or {}
    return next((c for c in zone.get("status", {}).get("conditions", []) if c["type"] == kind), None)


def _created(item: dict[str, Any]) -> float:
    return datetime.fromisoformat(item["metadata"]["creationTimestamp"].replace("Z", "+00:00")).timestamp()


def events(k8s: KubernetesCluster, namespace: str, name: str) -> list[dict[str, Any]]:
    listing = get_json(
        k8s, "events", "-n", namespace, "--field-selector", f"involvedObject.kind=Zone,involvedObject.name={name}"
    )
    return list((listing or {}).get("items", []))


def test_a_new_zone_gets_its_children_at_once_with_the_charts_rbac(
    k8s: KubernetesCluster, chart_operator: ChartOperator
) -> None:
    namespace, name = chart_operator.namespace, "quick"
    started = time.monotonic()
    apply(k8s, zone_manifest(name, namespace))
    wait_for(
        "every child of the new zone",
        lambda: children(k8s, namespace, name) == expected_children(name),
        timeout=90,
        interval=0.1,
    )
    took = time.monotonic() - started
    items = get_json(k8s, KINDS, "-n", namespace, "-l", f"autonomy.computer/zone={name}")["items"]
    server_side = max(_created(i) for i in items) - _created(get_json(k8s, "zone", name, "-n", namespace))
    print(
        f"time to the children of a new zone: {took:.1f} s here (kubectl polls included), "
        f"{server_side:.0f} s between the Zone's creationTimestamp and its last child's"
    )
    assert took < 15, f"{took:.1f} s to the children: the Role/RoleBinding order waits for a retry"
    k8s.kubectl("wait", "--for=condition=Ready", f"zone/{name}", "-n", namespace, "--timeout=30s", timeout=40)
    assert condition(k8s, namespace, name, "Accepted")["status"] == "True"  # type: ignore[index]
    log = chart_operator.process.current_log().lower()
    assert "forbidden" not in log and "not found" not in log


@pytest.mark.parametrize("kind", ["serviceaccount", "role"])
def test_a_foreign_object_with_a_childs_name_is_not_adopted(
    k8s: KubernetesCluster, chart_operator: ChartOperator, kind: str
) -> None:
    namespace, name = chart_operator.namespace, f"coll{kind[:2]}"
    if kind == "serviceaccount":
        k8s.kubectl("create", "serviceaccount", f"{name}-node", "-n", namespace)
    else:
        k8s.kubectl("create", "role", f"{name}-node", "--verb=*", "--resource=secrets", "-n", namespace)
    apply(k8s, zone_manifest(name, namespace))
    accepted = wait_for(
        "Accepted=False/NameCollision",
        lambda: (c := condition(k8s, namespace, name, "Accepted")) and c["status"] == "False" and c,
    )
    title = "ServiceAccount" if kind == "serviceaccount" else "Role"
    assert accepted["reason"] == "NameCollision"
    assert f"{title} '{name}-node'" in accepted["message"] and "delete" in accepted["message"]
    assert condition(k8s, namespace, name, "Ready")["reason"] == "NameCollision"  # type: ignore[index]
    time.sleep(2)  # anything written in parallel would be there by now
    assert children(k8s, namespace, name) == set(), "something of the zone was written"
    foreign = get_json(k8s, kind, f"{name}-node", "-n", namespace)
    assert not foreign["metadata"].get("ownerReferences")
    assert "autonomy.computer/zone" not in (foreign["metadata"].get("labels") or {})
    warned = [e for e in events(k8s, namespace, name) if e.get("reason") == "NameCollision"]
    assert warned and warned[0]["type"] == "Warning" and f"{name}-node" in warned[0]["message"]

    # Deleting the zone leaves the foreign object alone.
    k8s.kubectl("delete", "zone", name, "-n", namespace, "--wait=true", timeout=60)
    time.sleep(1)
    assert get_json(k8s, kind, f"{name}-node", "-n", namespace) is not None


def test_a_transient_failure_shows_in_status_and_as_an_event_and_is_retried_in_seconds(
    k8s: KubernetesCluster, chart_operator: ChartOperator
) -> None:
    namespace, name = chart_operator.namespace, "quota"
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-services", "namespace": namespace},
        "spec": {"hard": {"services": "0"}},
    }
    apply(k8s, quota)
    time.sleep(1)  # the quota controller computes usage first; before that, creation is refused anyway
    try:
        apply(k8s, zone_manifest(name, namespace))
        progressing = wait_for(
            "Progressing=True/Retrying",
            lambda: (c := condition(k8s, namespace, name, "Progressing")) and c["reason"] == "Retrying" and c,
            timeout=30,
        )
        assert f"Service '{name}-main-pod'" in progressing["message"]
        assert "quota" in progressing["message"] and "retr" in progressing["message"]
        ready = condition(k8s, namespace, name, "Ready")
        assert ready is not None and (ready["status"], ready["reason"]) == ("False", "Retrying")
        assert condition(k8s, namespace, name, "Accepted")["status"] == "True"  # type: ignore[index]
        warned = wait_for(
            "a Warning event of the failure",
            lambda: [e for e in events(k8s, namespace, name) if e.get("reason") == "Retrying"],
            timeout=10,
        )
        assert warned[0]["type"] == "Warning" and "quota" in warned[0]["message"]
        # Nothing that needs the failed stage was written: pods come only once their objects exist.
        assert ("Deployment", f"{name}-main-pod") not in children(k8s, namespace, name)
    finally:
        k8s.kubectl("delete", "resourcequota", "no-services", "-n", namespace)
    freed = time.monotonic()
    k8s.kubectl("wait", "--for=condition=Ready", f"zone/{name}", "-n", namespace, "--timeout=60s", timeout=70)
    took = time.monotonic() - freed
    assert took < 20, f"{took:.1f} s from the quota's removal to Ready: retries are not in seconds"
    assert condition(k8s, namespace, name, "Progressing")["reason"] != "Retrying"  # type: ignore[index]


def test_a_zone_deleted_and_applied_again_at_once_waits_for_its_old_children_then_gets_new_ones(
    k8s: KubernetesCluster, chart_operator: ChartOperator
) -> None:
    namespace, name = chart_operator.namespace, "again"
    apply(k8s, zone_manifest(name, namespace))
    k8s.kubectl("wait", "--for=condition=Ready", f"zone/{name}", "-n", namespace, "--timeout=60s", timeout=70)
    k8s.kubectl("delete", "zone", name, "-n", namespace, "--wait=true", timeout=60)
    apply(k8s, zone_manifest(name, namespace))  # the garbage collector may not have reached the old children
    k8s.kubectl("wait", "--for=condition=Ready", f"zone/{name}", "-n", namespace, "--timeout=60s", timeout=70)
    uid = get_json(k8s, "zone", name, "-n", namespace)["metadata"]["uid"]
    items = get_json(k8s, KINDS, "-n", namespace, "-l", f"autonomy.computer/zone={name}")["items"]
    assert {(i["kind"], i["metadata"]["name"]) for i in items} == expected_children(name)
    assert all([r["uid"] for r in i["metadata"]["ownerReferences"]] == [uid] for i in items)
    assert condition(k8s, namespace, name, "Accepted")["status"] == "True"  # type: ignore[index]
