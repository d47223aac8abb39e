"""A zone's pod as a Deployment: `<zone>-<pod>`, `clones` replicas, one node per Kubernetes pod.

The pod template carries the node's environment (CLUSTER, ZONE, POD, NODE, POD_IP, NAMESPACE,
AUTONOMY_DISCOVERY), the size split into requests and limits, ports and probes on every node
container (`nodes`), a read-only root filesystem with writable emptyDirs (`filesystem`), and a
restricted security context. Every field of the zone that matters is in the template, so any change
of the spec rolls out.
"""

from __future__ import annotations

import copy
from typing import Any

from autonomy.spec import ContainerSpec, PodSpec, secret_name
from autonomy_operator.builders import filesystem
from autonomy_operator.builders.context import (
    Manifest,
    ZoneContext,
    child_labels,
    deployment_name,
    metadata,
    node_account_name,
    selector_labels,
)
from autonomy_operator.builders.nodes import NodePorts, node_env, node_identity, node_ports, probes
from autonomy_operator.builders.resources import share

__all__ = ["build_deployment", "image_of"]

_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
_POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def image_of(ctx: ZoneContext, container: ContainerSpec) -> str:
    """A local image lives in the cluster's registry when it names one."""
    if container.is_local_image and ctx.cluster.image_registry:
        return f"{ctx.cluster.image_registry.rstrip('/')}/{container.image}"
    return container.image


def _env(ctx: ZoneContext, pod: PodSpec, container: ContainerSpec, ports: NodePorts | None) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "CLUSTER", "value": ctx.cluster_id},
        {"name": "ZONE", "value": ctx.zone},
        {"name": "POD", "value": pod.name},
        *node_identity(container, ports),
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "AUTONOMY_DISCOVERY", "value": "kubernetes"},
    ]
    if ports is not None:
        env += [*filesystem.node_state_env(), *node_env(ports)]
    # The container's own value wins over a default of ours (the spec refuses the reserved names).
    own = {var.name for var in container.env}
    env = [e for e in env if e["name"] not in own]
    for var in container.env:
        key = var.secret_key
        if key is None:
            env.append({"name": var.name, "value": var.value})
        else:
            env.append(
                {"name": var.name, "valueFrom": {"secretKeyRef": {"name": secret_name(ctx.zone), "key": key}}}
            )
    return env


def _container(ctx: ZoneContext, pod: PodSpec, container: ContainerSpec, ports: NodePorts | None) -> dict[str, Any]:
    size = ctx.cluster.resources(pod.size)
    amount = share(size.cpu, size.memory, len(pod.containers))
    out: dict[str, Any] = {
        "name": container.name,
        "image": image_of(ctx, container),
        "env": _env(ctx, pod, container, ports),
        "resources": {"requests": dict(amount), "limits": dict(amount)},
        "securityContext": copy.deepcopy(_CONTAINER_SECURITY),
        "volumeMounts": filesystem.mounts(container.name, is_node=ports is not None),
    }
    pull = container.image_pull_policy or ctx.cluster.image_pull_policy
    if pull:
        out["imagePullPolicy"] = pull
    if container.args:
        out["args"] = list(container.args)
    if ports is not None:
        out["ports"] = ports.container_ports()
        out.update(probes(ports))
    return out


def build_deployment(ctx: ZoneContext, pod: PodSpec) -> Manifest:
    """The Deployment of one pod of the zone."""
    name = deployment_name(ctx.zone, pod.name)
    ports = node_ports(pod)
    labels = child_labels(ctx, pod.name)
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(ctx.zone, pod.name)},
        "revisionHistoryLimit": 3,
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": node_account_name(ctx.zone),
                "enableServiceLinks": False,
                "securityContext": copy.deepcopy(_POD_SECURITY),
                "containers": [_container(ctx, pod, c, ports.get(c.name)) for c in pod.containers],
                "volumes": filesystem.volumes([c.name for c in pod.containers if c.name in ports]),
            },
        },
    }
    if name not in ctx.autoscaled:
        spec["replicas"] = 0 if ctx.spec.suspend else pod.clones
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(ctx, name, pod.name),
        "spec": spec,
    }
