"""Node discovery rights: a ServiceAccount per zone that may list and watch pods, and nothing more.

Nodes find each other by listing pods with their zone's label; the Role is namespaced, so a zone's
nodes see pods of their namespace only.
"""

from __future__ import annotations

from autonomy_operator.builders.context import Manifest, ZoneContext, metadata, node_account_name

__all__ = ["build_discovery_rbac"]


def build_discovery_rbac(ctx: ZoneContext) -> list[Manifest]:
    name = node_account_name(ctx.zone)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(ctx, name)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(ctx, name),
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(ctx, name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ctx.namespace}],
        },
    ]
