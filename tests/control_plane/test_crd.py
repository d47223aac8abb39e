"""A CRD applied with kubectl is served, and its CEL rule (x-kubernetes-validations) is enforced by
the apiserver with the rule's own message: what the project's CRDs rely on to reject bad specs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.k8s_fixtures import KubernetesCluster

pytestmark = pytest.mark.control_plane

RULE_MESSAGE = "spec.replicas must not exceed spec.maxReplicas"


@pytest.fixture
def widget_crd(k8s: KubernetesCluster) -> Iterator[str]:
    """A CRD with a unique group (CRDs are cluster-wide); yields the group, deletes the CRD after."""
    group = f"t{uuid.uuid4().hex[:8]}.test.autonomy.dev"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "required": ["replicas", "maxReplicas"],
                        "properties": {"replicas": {"type": "integer"}, "maxReplicas": {"type": "integer"}},
                        "x-kubernetes-validations": [
                            {"rule": "self.replicas <= self.maxReplicas", "message": RULE_MESSAGE},
                        ],
                    }},
                }},
            }],
        },
    }
    k8s.kubectl("apply", "-f", "-", input=json.dumps(crd))
    k8s.kubectl("wait", "--for=condition=Established", f"crd/widgets.{group}", "--timeout=30s")
    try:
        yield group
    finally:
        k8s.kubectl("delete", "crd", f"widgets.{group}", "--wait=false", check=False)


def widget(group: str, name: str, replicas: int, max_replicas: int) -> str:
    return json.dumps({
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "maxReplicas": max_replicas},
    })


def test_crd_is_served_and_valid_resource_is_stored(k8s: KubernetesCluster, namespace: str,
                                                    widget_crd: str) -> None:
    k8s.kubectl("apply", "-n", namespace, "-f", "-", input=widget(widget_crd, "ok", 2, 3))

    got = k8s.kubectl("get", f"widgets.{widget_crd}", "ok", "-n", namespace, "-o", "json")
    stored = json.loads(got.stdout)
    assert stored["spec"] == {"replicas": 2, "maxReplicas": 3}


def test_resource_violating_cel_rule_is_rejected_with_its_message(k8s: KubernetesCluster, namespace: str,
                                                                  widget_crd: str) -> None:
    result = k8s.kubectl("apply", "-n", namespace, "-f", "-", input=widget(widget_crd, "bad", 5, 3),
                         check=False)

    assert result.returncode != 0
    assert RULE_MESSAGE in result.stderr
    missing = k8s.kubectl("get", f"widgets.{widget_crd}", "bad", "-n", namespace, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
