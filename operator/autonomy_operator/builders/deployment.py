"""A zone's pod as a Deployment: `<zone>-<pod>`, `clones` replicas, one node per Kubernetes pod.

The pod template carries the node's environment (CLUSTER, ZONE, POD, NODE, POD_IP, NAMESPACE,
AUTONOMY_DISCOVERY), the size split into requests and limits, probes on the node container, and a
restricted security context. Every field of the zone that matters is in the template, so any change
of the spec rolls out.
"""

from __future__ import annotations

import copy
from typing import Any

from autonomy.spec import ContainerSpec, PodSpec, secret_name
from autonomy_operator.builders.context import (
    HTTP_PORT,
    TRANSPORT_PORT,
    Manifest,
    ZoneContext,
    child_labels,
    deployment_name,
    metadata,
    node_account_name,
    selector_labels,
)
from autonomy_operator.builders.resources import share

__all__ = ["WORKSPACE", "build_deployment", "image_of"]

#: A scratch volume for nodes (upstream apps expect a writable /workspace).
WORKSPACE = "/workspace"

_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def image_of(ctx: ZoneContext, container: ContainerSpec) -> str:
    """A local image lives in the cluster's registry when it names one."""
    if container.is_local_image and ctx.cluster.image_registry:
        return f"{ctx.cluster.image_registry.rstrip('/')}/{container.image}"
    return container.image


def _env(ctx: ZoneContext, pod: PodSpec, container: ContainerSpec) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "CLUSTER", "value": ctx.cluster_id},
        {"name": "ZONE", "value": ctx.zone},
        {"name": "POD", "value": pod.name},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "AUTONOMY_DISCOVERY", "value": "kubernetes"},
    ]
    overridable = {"AUTONOMY_DISCOVERY"}
    for var in container.env:
        if var.name in overridable:
            env = [e for e in env if e["name"] != var.name]
        key = var.secret_key
        if key is None:
            env.append({"name": var.name, "value": var.value})
        else:
            env.append(
                {"name": var.name, "valueFrom": {"secretKeyRef": {"name": secret_name(ctx.zone), "key": key}}}
            )
    return env


def _http_probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _container(ctx: ZoneContext, pod: PodSpec, container: ContainerSpec, is_node: bool) -> dict[str, Any]:
    size = ctx.cluster.resources(pod.size)
    amount = share(size.cpu, size.memory, len(pod.containers))
    out: dict[str, Any] = {
        "name": container.name,
        "image": image_of(ctx, container),
        "env": _env(ctx, pod, container),
        "resources": {"requests": dict(amount), "limits": dict(amount)},
        "securityContext": copy.deepcopy(_CONTAINER_SECURITY),
    }
    pull = container.image_pull_policy or ctx.cluster.image_pull_policy
    if pull:
        out["imagePullPolicy"] = pull
    if container.args:
        out["args"] = list(container.args)
    if is_node:
        out["ports"] = [
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": "transport", "containerPort": TRANSPORT_PORT, "protocol": "TCP"},
        ]
        out["readinessProbe"] = _http_probe("/readyz", period=5, failures=3)
        out["livenessProbe"] = _http_probe("/healthz", period=10, failures=6)
        out["startupProbe"] = _http_probe("/healthz", period=2, failures=90)
        out["volumeMounts"] = [{"name": "workspace", "mountPath": WORKSPACE}]
    return out


def build_deployment(ctx: ZoneContext, pod: PodSpec) -> Manifest:
    """The Deployment of one pod of the zone."""
    name = deployment_name(ctx.zone, pod.name)
    node = pod.node_container
    labels = child_labels(ctx, pod.name)
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(ctx.zone, pod.name)},
        "revisionHistoryLimit": 3,
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": node_account_name(ctx.zone),
                "enableServiceLinks": False,
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [_container(ctx, pod, c, c is node) for c in pod.containers],
                "volumes": [{"name": "workspace", "emptyDir": {}}],
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
