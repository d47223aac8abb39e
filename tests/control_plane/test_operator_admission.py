"""What the CRD refuses at `kubectl apply` time, with the CEL rule's own message: the same rules
autonomy.spec applies in the CLI."""

from __future__ import annotations

from typing import Any

import pytest

from tests.k8s_fixtures import KubernetesCluster
from tests.operator_fixtures import apply

pytestmark = pytest.mark.control_plane


def zone(namespace: str, name: str = "good", **spec: Any) -> dict[str, Any]:
    body = {"pods": [{"name": "main-pod", "containers": [{"name": "main", "image": "main"}]}]}
    body.update(spec)
    return {
        "apiVersion": "autonomy.computer/v1alpha1",
        "kind": "Zone",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def pods(*names: str, **pod: Any) -> list[dict[str, Any]]:
    return [{"name": n, "containers": [{"name": "main", "image": "main"}], **pod} for n in names]


@pytest.mark.parametrize(
    ("name", "spec", "message"),
    [
        ("Bad_Name", {}, "zone name (metadata.name) must be 1-10 characters of a-z and 0-9"),
        ("elevenchars", {}, "zone name (metadata.name) must be 1-10 characters of a-z and 0-9"),
        ("ok", {"pods": pods("Main_Pod")}, "pod name must be 1-10 characters of a-z, 0-9 and '-'"),
        (
            "ok",
            {"pods": [{"name": "main-pod", "containers": [{"name": "-c", "image": "x"}]}]},
            "container name must be 1-10 characters of a-z, 0-9 and '-'",
        ),
        ("ok", {"pods": pods("main-pod", "main-pod")}, "pod names must be unique in a zone"),
        (
            "ok",
            {
                "pods": [
                    {
                        "name": "main-pod",
                        "containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "other"}],
                    }
                ]
            },
            "container names must be unique in a pod",
        ),
        ("ok", {"pods": pods("api", "worker")}, "with several pods, one must be named main-pod"),
        ("ok", {"pods": pods("main-pod", size="huge")}, 'supported values: "regular", "big"'),
        ("ok", {"pods": pods("main-pod", clones=0)}, "should be greater than or equal to 1"),
        ("ok", {"pods": pods("main-pod", clones=101)}, "should be less than or equal to 100"),
        (
            "ok",
            {
                "pods": [
                    {
                        "name": "main-pod",
                        "containers": [{"name": "c", "image": "x", "env": [{"name": "ZONE", "value": "x"}]}],
                    }
                ]
            },
            "env may not set CLUSTER",
        ),
        (
            "ok",
            {
                "pods": [
                    {
                        "name": "main-pod",
                        "containers": [
                            {
                                "name": "c",
                                "image": "x",
                                "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}],
                            }
                        ],
                    }
                ]
            },
            "Duplicate value",
        ),
        ("ok", {"pods": []}, "should have at least 1 items"),
    ],
)
def test_invalid_zone_is_refused_at_admission(
    k8s: KubernetesCluster, namespace: str, autonomy_crds: None, name: str, spec: dict[str, Any], message: str
) -> None:
    result = apply(k8s, zone(namespace, name, **spec), check=False)
    assert result.returncode != 0, f"accepted: {spec}"
    assert message in result.stderr, result.stderr
    assert k8s.kubectl("get", "zone", name, "-n", namespace, check=False).returncode != 0


def test_valid_zone_is_stored_with_defaults(
    k8s: KubernetesCluster, namespace: str, autonomy_crds: None
) -> None:
    apply(k8s, zone(namespace, "good"))
    stored = k8s.kubectl(
        "get",
        "zone",
        "good",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.pods[0].size}/{.spec.pods[0].clones}/{.spec.pods[0].public}",
    ).stdout
    assert stored == "regular/1/false"
    explained = k8s.kubectl("explain", "zone.spec.pods.clones").stdout
    assert "Number of identical copies of the pod" in explained
    explained = k8s.kubectl("explain", "clusters.autonomy.computer.status.clusterId").stdout
    assert "32 lowercase hex digits" in explained
