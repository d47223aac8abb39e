"""What a builder needs to know about one zone, gathered once per reconcile.

Builders are pure: a `ZoneContext` in, manifest dicts out. Everything read from the API (the Zone,
its Cluster, which Deployments an HPA scales) is collected into this value first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autonomy.spec import ClusterSpec, ZoneSpec

__all__ = [
    "CLUSTER_LABEL",
    "FIELD_MANAGER",
    "HTTP_PORT",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "POD_LABEL",
    "TRANSPORT_PORT",
    "ZONE_LABEL",
    "Manifest",
    "ZoneContext",
    "child_labels",
    "deployment_name",
    "node_account_name",
    "owner_reference",
    "selector_labels",
]

Manifest = dict[str, Any]

CLUSTER_LABEL = "autonomy.computer/cluster"
ZONE_LABEL = "autonomy.computer/zone"
POD_LABEL = "autonomy.computer/pod"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "autonomy-operator"
FIELD_MANAGER = "autonomy-operator"
HTTP_PORT = 8000
TRANSPORT_PORT = 50051


@dataclass(frozen=True)
class ZoneContext:
    """One zone and its surroundings, as the builders see it."""

    spec: ZoneSpec
    namespace: str
    uid: str
    cluster_id: str
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    #: Deployment names whose replicas an HPA sets: the operator leaves their replicas alone.
    autoscaled: frozenset[str] = frozenset()

    @property
    def zone(self) -> str:
        return self.spec.name

    @property
    def host(self) -> str | None:
        """The zone's public host name, when the cluster has a domain."""
        if not self.cluster.domain:
            return None
        return f"{self.cluster_id}-{self.zone}.{self.cluster.domain}"


def deployment_name(zone: str, pod: str) -> str:
    return f"{zone}-{pod}"


def node_account_name(zone: str) -> str:
    """ServiceAccount, Role and RoleBinding that let a zone's nodes discover each other."""
    return f"{zone}-node"


def child_labels(ctx: ZoneContext, pod: str | None = None) -> dict[str, str]:
    """Labels on every child (and on every Kubernetes pod, with `pod` set)."""
    labels = {
        CLUSTER_LABEL: ctx.cluster_id,
        ZONE_LABEL: ctx.zone,
        MANAGED_BY_LABEL: MANAGED_BY,
    }
    if pod is not None:
        labels[POD_LABEL] = pod
    return labels


def selector_labels(zone: str, pod: str) -> dict[str, str]:
    """The immutable Deployment selector: zone and pod only."""
    return {ZONE_LABEL: zone, POD_LABEL: pod}


def owner_reference(ctx: ZoneContext) -> dict[str, Any]:
    """Children are owned by their Zone: deleting it lets garbage collection remove them."""
    return {
        "apiVersion": "autonomy.computer/v1alpha1",
        "kind": "Zone",
        "name": ctx.zone,
        "uid": ctx.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(ctx: ZoneContext, name: str, pod: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ctx.namespace,
        "labels": child_labels(ctx, pod),
        "ownerReferences": [owner_reference(ctx)],
    }
