"""Pure builders: a zone (with its cluster) in, the manifests of its children out.

No I/O here: the reconciler gathers a `ZoneContext`, calls `build_children`, and applies the
result. `child_keys` names what a spec would create, so a reconcile can delete what a new spec
no longer wants.
"""

from __future__ import annotations

from autonomy_operator.builders.context import (
    CLUSTER_LABEL,
    FIELD_MANAGER,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    POD_LABEL,
    ZONE_LABEL,
    Manifest,
    ZoneContext,
    deployment_name,
    node_account_name,
)
from autonomy_operator.builders.deployment import build_deployment
from autonomy_operator.builders.network import (
    build_ingress,
    build_network_policies,
    build_service,
    zone_url,
)
from autonomy_operator.builders.rbac import build_discovery_rbac

__all__ = [
    "CLUSTER_LABEL",
    "FIELD_MANAGER",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "POD_LABEL",
    "ZONE_LABEL",
    "ChildKey",
    "Manifest",
    "ZoneContext",
    "build_children",
    "child_key",
    "deployment_name",
    "node_account_name",
    "zone_url",
]

#: (apiVersion, kind, name) of a child in the zone's namespace.
ChildKey = tuple[str, str, str]


def child_key(manifest: Manifest) -> ChildKey:
    return (manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"])


def build_children(ctx: ZoneContext) -> list[Manifest]:
    """Every object the zone needs, in apply order (accounts before the pods that use them)."""
    children: list[Manifest] = [*build_discovery_rbac(ctx), *build_network_policies(ctx)]
    for pod in ctx.spec.pods:
        if pod.public:
            children.append(build_service(ctx, pod))
            ingress = build_ingress(ctx, pod)
            if ingress is not None:
                children.append(ingress)
    children.extend(build_deployment(ctx, pod) for pod in ctx.spec.pods)
    return children
