"""A Zone applied with kubectl becomes its children and turns Ready; edits roll out; deletion
garbage-collects everything (the real controller-manager); bad specs are refused or not accepted."""

from __future__ import annotations

import time
from typing import Any

import pytest

from autonomy.spec import parse_zone
from tests.k8s_fixtures import KubernetesCluster
from tests.operator_fixtures import DOMAIN, OperatorProcess, apply, get_json, wait_for

pytestmark = pytest.mark.control_plane

ZONE: dict[str, Any] = {
    "name": "shop",
    "pods": [
        {
            "name": "main-pod",
            "public": True,
            "containers": [
                {"name": "main", "image": "main", "env": {"MODE": "fast"}},
                {"name": "mcp", "image": "ghcr.io/org/mcp:1", "args": ["--port", "8001"]},
            ],
        },
        {"name": "runner", "size": "big", "clones": 3, "containers": [{"name": "main", "image": "runner"}]},
    ],
}


def zone_manifest(namespace: str, zone: dict[str, Any] = ZONE) -> dict[str, Any]:
    return parse_zone(zone).zone_manifest(namespace)


def condition(k8s: KubernetesCluster, namespace: str, name: str, kind: str) -> dict[str, Any] | None:
    zone = get_json(k8s, "zone", name, "-n", namespace) or {}
    return next((c for c in zone.get("status", {}).get("conditions", []) if c["type"] == kind), None)


def wait_ready(k8s: KubernetesCluster, namespace: str, name: str, timeout: int = 90) -> None:
    k8s.kubectl(
        "wait",
        "--for=condition=Ready",
        f"zone/{name}",
        "-n",
        namespace,
        f"--timeout={timeout}s",
        timeout=timeout + 10,
    )


def deployment(k8s: KubernetesCluster, namespace: str, name: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = get_json(k8s, "deployment", name, "-n", namespace)
    return result


def names(k8s: KubernetesCluster, kind: str, namespace: str) -> set[str]:
    listing = get_json(k8s, kind, "-n", namespace, "-l", "autonomy.computer/zone") or {"items": []}
    return {item["metadata"]["name"] for item in listing["items"]}


def test_zone_becomes_its_children_and_turns_ready(
    k8s: KubernetesCluster, namespace: str, operator: OperatorProcess, cluster_id: str
) -> None:
    apply(k8s, zone_manifest(namespace))
    wait_ready(k8s, namespace, "shop")

    zone = get_json(k8s, "zone", "shop", "-n", namespace)
    status = zone["status"]
    assert status["observedGeneration"] == zone["metadata"]["generation"]
    assert status["clones"] == "4/4"
    assert status["url"] == f"https://{cluster_id}-shop.{DOMAIN}"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Accepted": "True",
        "Ready": "True",
        "Progressing": "False",
        "Degraded": "False",
    }

    assert names(k8s, "deployments", namespace) == {"shop-main-pod", "shop-runner"}
    assert names(k8s, "services", namespace) == {"shop-main-pod"}
    assert names(k8s, "ingresses", namespace) == {"shop-main-pod"}
    assert names(k8s, "networkpolicies", namespace) == {"shop", "shop-public"}
    assert names(k8s, "serviceaccounts", namespace) == {"shop-node"}
    assert names(k8s, "roles", namespace) == names(k8s, "rolebindings", namespace) == {"shop-node"}

    runner = deployment(k8s, namespace, "shop-runner")
    assert runner is not None
    assert runner["spec"]["replicas"] == 3
    assert runner["metadata"]["labels"] == {
        "autonomy.computer/cluster": cluster_id,
        "autonomy.computer/zone": "shop",
        "autonomy.computer/pod": "runner",
        "app.kubernetes.io/managed-by": "autonomy-operator",
    }
    (owner,) = runner["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Zone", "shop", zone["metadata"]["uid"])
    managed = get_json(k8s, "deployment", "shop-runner", "-n", namespace, "--show-managed-fields")
    assert any(
        m["manager"] == "autonomy-operator" and m["operation"] == "Apply"
        for m in managed["metadata"]["managedFields"]
    )
    (container,) = runner["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"cpu": "4", "memory": "2Gi"}
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["CLUSTER"] == cluster_id and env["ZONE"] == "shop" and env["POD"] == "runner"
    assert env["NODE"] == {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}

    pods = get_json(k8s, "pods", "-n", namespace, "-l", "autonomy.computer/zone=shop")["items"]
    assert len(pods) == 4
    assert all(
        p["status"]["phase"] == "Running"
        and p["metadata"]["labels"]["autonomy.computer/cluster"] == cluster_id
        for p in pods
    )

    listing = k8s.kubectl("get", "zones", "-n", namespace).stdout
    assert "READY" in listing and "CLONES" in listing and "4/4" in listing
    assert "shop" in k8s.kubectl("get", "autonomy", "-n", namespace).stdout


def _edit(zone: dict[str, Any], pod: int, **changes: Any) -> dict[str, Any]:
    pods = [dict(p) for p in zone["pods"]]
    pods[pod].update(changes)
    return {**zone, "pods": pods}


def _rolled_out_to(k8s: KubernetesCluster, namespace: str, name: str, check: Any) -> dict[str, Any] | None:
    dep = deployment(k8s, namespace, name)
    if dep is None or not check(dep):
        return None
    return dep


def test_every_kind_of_edit_rolls_out(
    k8s: KubernetesCluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(k8s, zone_manifest(namespace))
    wait_ready(k8s, namespace, "shop")

    def runner_container(dep: dict[str, Any]) -> dict[str, Any]:
        return dep["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]

    runner = ZONE["pods"][1]
    steps: list[tuple[str, dict[str, Any], Any]] = [
        (
            "image",
            _edit(ZONE, 1, containers=[{"name": "main", "image": "runner:v2"}]),
            lambda d: runner_container(d)["image"] == "runner:v2",
        ),
        (
            "env",
            _edit(ZONE, 1, containers=[{"name": "main", "image": "runner:v2", "env": {"LEVEL": "debug"}}]),
            lambda d: {"name": "LEVEL", "value": "debug"} in runner_container(d)["env"],
        ),
        (
            "args",
            _edit(ZONE, 1, containers=[{"name": "main", "image": "runner:v2", "args": ["--fast"]}]),
            lambda d: runner_container(d).get("args") == ["--fast"],
        ),
        (
            "size",
            _edit(ZONE, 1, size="regular", containers=[{"name": "main", "image": "runner:v2"}]),
            lambda d: runner_container(d)["resources"]["limits"] == {"cpu": "250m", "memory": "256Mi"},
        ),
        (
            "clones",
            _edit(ZONE, 1, clones=1, containers=[{"name": "main", "image": "runner:v2"}]),
            lambda d: d["spec"]["replicas"] == 1,
        ),
    ]
    for what, zone, check in steps:
        apply(k8s, zone_manifest(namespace, zone))
        wait_for(
            f"the {what} edit on shop-runner",
            lambda check=check: _rolled_out_to(k8s, namespace, "shop-runner", check),
        )
        wait_ready(k8s, namespace, "shop")
        generation = get_json(k8s, "zone", "shop", "-n", namespace)["metadata"]["generation"]
        assert get_json(k8s, "zone", "shop", "-n", namespace)["status"]["observedGeneration"] == generation, (
            what
        )
    pods = get_json(k8s, "pods", "-n", namespace, "-l", "autonomy.computer/pod=runner")["items"]
    assert len([p for p in pods if not p["metadata"].get("deletionTimestamp")]) >= 1

    # Add a pod, then remove it: its Deployment comes, then goes.
    extra = {
        **ZONE,
        "pods": [*ZONE["pods"], {"name": "worker", "containers": [{"name": "main", "image": "w"}]}],
    }
    apply(k8s, zone_manifest(namespace, extra))
    wait_for("the new pod's Deployment", lambda: deployment(k8s, namespace, "shop-worker"))
    wait_ready(k8s, namespace, "shop")
    # The main pod turns private: its Service, Ingress and public policy go too.
    private = {**ZONE, "pods": [{**ZONE["pods"][0], "public": False}, runner]}
    apply(k8s, zone_manifest(namespace, private))
    wait_for("shop-worker to be deleted", lambda: deployment(k8s, namespace, "shop-worker") is None)
    wait_for("the Service to be deleted", lambda: names(k8s, "services", namespace) == set())
    assert names(k8s, "ingresses", namespace) == set()
    assert names(k8s, "networkpolicies", namespace) == {"shop"}
    wait_ready(k8s, namespace, "shop")
    assert get_json(k8s, "zone", "shop", "-n", namespace)["status"].get("url") is None


def test_suspend_scales_to_zero(k8s: KubernetesCluster, namespace: str, operator: OperatorProcess) -> None:
    apply(k8s, zone_manifest(namespace))
    wait_ready(k8s, namespace, "shop")
    manifest = zone_manifest(namespace)
    manifest["spec"]["suspend"] = True
    apply(k8s, manifest)
    wait_for(
        "replicas 0",
        lambda: all(
            (deployment(k8s, namespace, n) or {}).get("spec", {}).get("replicas") == 0
            for n in ("shop-main-pod", "shop-runner")
        ),
    )
    wait_for(
        "Ready=False/Suspended",
        lambda: (condition(k8s, namespace, "shop", "Ready") or {}).get("reason") == "Suspended",
    )


def test_deleting_the_zone_removes_everything(
    k8s: KubernetesCluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(k8s, zone_manifest(namespace))
    wait_ready(k8s, namespace, "shop")
    k8s.kubectl("delete", "zone", "shop", "-n", namespace, "--wait=true", "--timeout=30s")
    for kind in (
        "deployments",
        "services",
        "ingresses",
        "networkpolicies",
        "serviceaccounts",
        "roles",
        "rolebindings",
        "pods",
    ):
        wait_for(
            f"{kind} of the zone to be garbage-collected",
            lambda kind=kind: not names(k8s, kind, namespace),
            timeout=60,
        )


def test_hpa_owned_replicas_are_left_alone(
    k8s: KubernetesCluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(k8s, zone_manifest(namespace))
    wait_ready(k8s, namespace, "shop")
    apply(
        k8s,
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "runner", "namespace": namespace},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop-runner"},
                "minReplicas": 1,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 80},
                        },
                    }
                ],
            },
        },
    )
    time.sleep(1)  # the operator's HPA index sees it
    # What an HPA does: scale through the scale subresource.
    k8s.kubectl("scale", "deployment", "shop-runner", "-n", namespace, "--replicas=5")
    # A spec edit makes the operator apply the Deployment again.
    apply(k8s, zone_manifest(namespace, _edit(ZONE, 1, containers=[{"name": "main", "image": "runner:v3"}])))
    wait_for(
        "the image edit",
        lambda: _rolled_out_to(
            k8s,
            namespace,
            "shop-runner",
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["image"] == "runner:v3",
        ),
    )
    assert deployment(k8s, namespace, "shop-runner")["spec"]["replicas"] == 5  # type: ignore[index]


def test_missing_secret_and_unknown_key_are_not_accepted(
    k8s: KubernetesCluster, namespace: str, operator: OperatorProcess
) -> None:
    zone = {
        "name": "vault",
        "pods": [
            {
                "name": "main-pod",
                "containers": [{"name": "main", "image": "main", "env": {"TOKEN": "secrets.TOKEN"}}],
            }
        ],
    }
    apply(k8s, zone_manifest(namespace, zone))
    accepted = wait_for(
        "Accepted=False",
        lambda: (c := condition(k8s, namespace, "vault", "Accepted")) and c["status"] == "False" and c,
    )
    assert accepted["reason"] == "SecretNotFound"
    assert "vault-secrets" in accepted["message"]
    assert (
        deployment(k8s, namespace, "vault-main-pod") is None
    )  # nothing is built from a spec that cannot run

    k8s.kubectl("create", "secret", "generic", "vault-secrets", "-n", namespace, "--from-literal=OTHER=x")
    zone["pods"][0]["containers"][0]["env"]["LEVEL"] = "1"  # a spec change makes the operator look again
    apply(k8s, zone_manifest(namespace, zone))
    accepted = wait_for(
        "Accepted=False/UnknownSecretKey",
        lambda: (
            (c := condition(k8s, namespace, "vault", "Accepted")) and c["reason"] == "UnknownSecretKey" and c
        ),
    )
    assert "TOKEN" in accepted["message"] and "OTHER" in accepted["message"]
    events = get_json(k8s, "events", "-n", namespace, "--field-selector", "involvedObject.name=vault")[
        "items"
    ]
    assert {(e["type"], e["reason"]) for e in events} >= {
        ("Warning", "SecretNotFound"),
        ("Warning", "UnknownSecretKey"),
    }
    zone_body = get_json(k8s, "zone", "vault", "-n", namespace)
    assert not zone_body["metadata"].get("finalizers")

    k8s.kubectl(
        "create",
        "secret",
        "generic",
        "vault-secrets",
        "-n",
        namespace,
        "--from-literal=TOKEN=t",
        "--dry-run=client",
        "-o",
        "yaml",
    )
    k8s.kubectl("delete", "secret", "vault-secrets", "-n", namespace)
    k8s.kubectl("create", "secret", "generic", "vault-secrets", "-n", namespace, "--from-literal=TOKEN=t")
    zone["pods"][0]["containers"][0]["env"]["LEVEL"] = "2"
    apply(k8s, zone_manifest(namespace, zone))
    wait_ready(k8s, namespace, "vault")
    env = deployment(k8s, namespace, "vault-main-pod")["spec"]["template"]["spec"]["containers"][0]["env"]  # type: ignore[index]
    assert {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "vault-secrets", "key": "TOKEN"}}} in env


def test_name_taken_by_a_foreign_object_is_not_accepted(
    k8s: KubernetesCluster, namespace: str, operator: OperatorProcess
) -> None:
    k8s.kubectl("create", "deployment", "taken-main-pod", "-n", namespace, "--image=someone/else")
    zone = {
        "name": "taken",
        "pods": [{"name": "main-pod", "containers": [{"name": "main", "image": "main"}]}],
    }
    apply(k8s, zone_manifest(namespace, zone))
    accepted = wait_for(
        "Accepted=False/NameCollision",
        lambda: (c := condition(k8s, namespace, "taken", "Accepted")) and c["status"] == "False" and c,
    )
    assert accepted["reason"] == "NameCollision"
    assert "taken-main-pod" in accepted["message"]
    foreign = deployment(k8s, namespace, "taken-main-pod")
    assert (
        foreign is not None
        and foreign["spec"]["template"]["spec"]["containers"][0]["image"] == "someone/else"
    )


def test_cluster_change_reaches_every_zone(
    k8s: KubernetesCluster, namespace: str, operator: OperatorProcess, cluster_id: str
) -> None:
    apply(k8s, zone_manifest(namespace))
    wait_ready(k8s, namespace, "shop")
    patch = '{"spec": {"domain": "moved.test", "imageRegistry": "registry.test:5000"}}'
    k8s.kubectl("patch", "clusters.autonomy.computer", "autonomy-test", "--type=merge", "-p", patch)
    try:
        wait_for(
            "the zone's new URL",
            lambda: (
                (get_json(k8s, "zone", "shop", "-n", namespace) or {}).get("status", {}).get("url")
                == f"https://{cluster_id}-shop.moved.test"
            ),
        )
        ingress = get_json(k8s, "ingress", "shop-main-pod", "-n", namespace)
        assert ingress["spec"]["rules"][0]["host"] == f"{cluster_id}-shop.moved.test"
        runner = deployment(k8s, namespace, "shop-runner")
        assert runner is not None
        assert runner["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.test:5000/runner"
    finally:
        k8s.kubectl(
            "patch",
            "clusters.autonomy.computer",
            "autonomy-test",
            "--type=json",
            "-p",
            '[{"op": "replace", "path": "/spec/domain", "value": "zones.test"},'
            ' {"op": "remove", "path": "/spec/imageRegistry"}]',
        )
