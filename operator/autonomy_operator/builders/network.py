"""How a zone is reached: a Service (and an Ingress when the cluster has a domain) per public pod,
and NetworkPolicies that keep zones apart.

Pods of a zone reach each other on any port (HTTP and gRPC between nodes); public pods also take
traffic on 8000 from anywhere; nothing else gets in. Egress is left open: nodes call model
providers and MCP servers.
"""

from __future__ import annotations

from typing import Any

from autonomy.spec import PodSpec
from autonomy_operator.builders.context import (
    HTTP_PORT,
    POD_LABEL,
    ZONE_LABEL,
    Manifest,
    ZoneContext,
    deployment_name,
    metadata,
    selector_labels,
)

__all__ = ["build_ingress", "build_network_policies", "build_service", "public_host", "zone_url"]


def build_service(ctx: ZoneContext, pod: PodSpec) -> Manifest:
    """ClusterIP Service on port 8000 of a public pod."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(ctx, deployment_name(ctx.zone, pod.name), pod.name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(ctx.zone, pod.name),
            "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": HTTP_PORT, "protocol": "TCP"}],
        },
    }


def public_host(ctx: ZoneContext, pod: PodSpec) -> str | None:
    """`<clusterId>-<zone>.<domain>` for the main pod; other public pods add their name."""
    if ctx.host is None:
        return None
    if pod.name == ctx.spec.main_pod.name:
        return ctx.host
    return f"{ctx.cluster_id}-{ctx.zone}-{pod.name}.{ctx.cluster.domain}"


def zone_url(ctx: ZoneContext) -> str | None:
    """The zone's public URL: that of its main pod, else of its first public pod."""
    public = [p for p in ctx.spec.pods if p.public]
    if not public or ctx.host is None:
        return None
    pod = ctx.spec.main_pod if ctx.spec.main_pod.public else public[0]
    return f"https://{public_host(ctx, pod)}"


def build_ingress(ctx: ZoneContext, pod: PodSpec) -> Manifest | None:
    host = public_host(ctx, pod)
    if host is None:
        return None
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {
                                    "name": deployment_name(ctx.zone, pod.name),
                                    "port": {"number": HTTP_PORT},
                                }
                            },
                        }
                    ]
                },
            }
        ],
    }
    if ctx.cluster.ingress_class_name:
        spec["ingressClassName"] = ctx.cluster.ingress_class_name
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(ctx, deployment_name(ctx.zone, pod.name), pod.name),
        "spec": spec,
    }


def build_network_policies(ctx: ZoneContext) -> list[Manifest]:
    zone_pods = {"matchLabels": {ZONE_LABEL: ctx.zone}}
    policies: list[Manifest] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(ctx, ctx.zone),
            "spec": {
                "podSelector": zone_pods,
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": zone_pods}]}],
            },
        }
    ]
    public = sorted(p.name for p in ctx.spec.pods if p.public)
    if public:
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": metadata(ctx, f"{ctx.zone}-public"),
                "spec": {
                    "podSelector": {
                        "matchLabels": {ZONE_LABEL: ctx.zone},
                        "matchExpressions": [{"key": POD_LABEL, "operator": "In", "values": public}],
                    },
                    "policyTypes": ["Ingress"],
                    "ingress": [{"ports": [{"port": HTTP_PORT, "protocol": "TCP"}]}],
                },
            }
        )
    return policies
