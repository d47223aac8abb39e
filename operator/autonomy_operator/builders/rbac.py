"""A zone's nodes' rights: a ServiceAccount per zone that may list and watch pods, read its zone's trust
bundle, and (through one ClusterRoleBinding per zone) ask for node certificates; nothing more.

Nodes find each other by listing pods with their zone's label; the Role is namespaced, so a zone's
nodes see pods of their namespace only. The trust bundle is the ConfigMap `<zone>-ca` (the zone CA's
certificate, public); the Role names that one ConfigMap. CertificateSigningRequests are cluster-scoped,
so a namespaced Role cannot grant them: the chart's ClusterRole for node CSRs is bound to each zone's
ServiceAccount by a ClusterRoleBinding (`node_csr_binding`), which the operator writes and deletes
itself (a cluster-scoped object cannot be owned by a namespaced Zone).
"""

from __future__ import annotations

from autonomy.identity.kubernetes_csr import trust_bundle_name
from autonomy_operator.builders.context import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ZONE_LABEL,
    Manifest,
    ZoneContext,
    metadata,
    node_account_name,
)

__all__ = ["ZONE_NAMESPACE_LABEL", "build_discovery_rbac", "node_csr_binding", "node_csr_binding_name"]

#: On cluster-scoped objects of a zone (its ClusterRoleBinding) and on its CA Secret: the zone's namespace.
ZONE_NAMESPACE_LABEL = "autonomy.computer/namespace"


def build_discovery_rbac(ctx: ZoneContext) -> list[Manifest]:
    name = node_account_name(ctx.zone)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(ctx, name)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(ctx, name),
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "resourceNames": [trust_bundle_name(ctx.zone)],
                    "verbs": ["get"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(ctx, name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ctx.namespace}],
        },
    ]


def node_csr_binding_name(cluster_role: str, namespace: str, zone: str) -> str:
    """Unique per zone: namespaces and zone names never contain ':'."""
    return f"{cluster_role}:{namespace}:{zone}"


def node_csr_binding(cluster_role: str, namespace: str, zone: str) -> Manifest:
    """Binds the chart's node-CSR ClusterRole to the zone's ServiceAccount, and to no one else."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": node_csr_binding_name(cluster_role, namespace, zone),
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, ZONE_LABEL: zone, ZONE_NAMESPACE_LABEL: namespace},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": [{"kind": "ServiceAccount", "name": node_account_name(zone), "namespace": namespace}],
    }
