"""Which containers of a pod run a node, and what each gets: its ports, its probes, its node name.

The zone spec says which containers are nodes (`node`, settled when the spec is read), never the
image string: `autonomy zone deploy` renames local images to `<registry>/<zone>-<name>:<tag>`.
All containers of a pod share one network namespace, so two nodes cannot both bind 8000. The pod's
node (`PodSpec.node_container`) takes 8000 and 50051, the ports the Service and peers use; every
other node container k (1, 2, ...) is told to serve on 8000+100k and 50051+100k, and gets a node
name of its own (`<pod name>-<container>`), since a second node under the pod's name would take
over the first one's links. Peers discover only the pod's node: discovery lists pods, not containers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autonomy.spec import ContainerSpec, PodSpec
from autonomy_operator.builders.context import HTTP_PORT, TRANSPORT_PORT

__all__ = ["PORT_STEP", "NodePorts", "node_env", "node_identity", "node_ports", "probes"]

#: How far apart the ports of a pod's node containers are.
PORT_STEP = 100
#: The variables a node reads its ports from (autonomy.http.server, autonomy.node.settings).
HTTP_PORT_ENV = "DEFAULT_PORT_HTTP"
TRANSPORT_PORT_ENV = "AUTONOMY_TRANSPORT_PORT"
#: Holds the Kubernetes pod name for a second node's own name (Kubernetes expands `$(VAR)` in env).
POD_NAME_ENV = "AUTONOMY_POD_NAME"


@dataclass(frozen=True)
class NodePorts:
    """The ports of one node container; `index` 0 is the pod's node."""

    index: int
    http: int
    transport: int

    @property
    def http_name(self) -> str:
        return "http" if self.index == 0 else f"http-{self.index}"

    @property
    def transport_name(self) -> str:
        return "transport" if self.index == 0 else f"transport-{self.index}"

    def container_ports(self) -> list[dict[str, Any]]:
        return [
            {"name": self.http_name, "containerPort": self.http, "protocol": "TCP"},
            {"name": self.transport_name, "containerPort": self.transport, "protocol": "TCP"},
        ]


def node_ports(pod: PodSpec) -> dict[str, NodePorts]:
    """The ports of every node container of `pod`, by container name.

    A port the container's own env sets (a plain number) is the one it serves on, so the probes
    follow it; otherwise the pod's node gets 8000/50051 and the k-th other node 8000+100k/50051+100k.
    """
    main = pod.node_container
    others = [c for c in pod.node_containers if c is not main]
    ordered = ([main] if main is not None else []) + others
    return {
        c.name: NodePorts(
            index=k,
            http=_env_port(c, HTTP_PORT_ENV) or HTTP_PORT + PORT_STEP * k,
            transport=_env_port(c, TRANSPORT_PORT_ENV) or TRANSPORT_PORT + PORT_STEP * k,
        )
        for k, c in enumerate(ordered)
    }


def node_identity(container: ContainerSpec, ports: NodePorts | None) -> list[dict[str, Any]]:
    """NODE: the Kubernetes pod name; for a second node container, that name and the container's
    (the kubelet expands `$(VAR)` from a variable defined before it)."""
    pod_name = {"valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    if ports is None or ports.index == 0:
        return [{"name": "NODE", **pod_name}]
    return [
        {"name": POD_NAME_ENV, **pod_name},
        {"name": "NODE", "value": f"$({POD_NAME_ENV})-{container.name}"},
    ]


def node_env(ports: NodePorts | None) -> list[dict[str, Any]]:
    """The ports a second node container must serve on (the pod's node keeps the defaults)."""
    if ports is None or ports.index == 0:
        return []
    return [
        {"name": HTTP_PORT_ENV, "value": str(ports.http)},
        {"name": TRANSPORT_PORT_ENV, "value": str(ports.transport)},
    ]


def probes(ports: NodePorts) -> dict[str, dict[str, Any]]:
    """Startup waits for the process to serve; readiness is `/readyz` (HTTP up, transport listening,
    announced, not stopping); liveness restarts a node whose HTTP no longer answers."""
    return {
        "startupProbe": _http_probe("/healthz", ports.http_name, period=1, failures=180),
        "readinessProbe": _http_probe("/readyz", ports.http_name, period=2, failures=3),
        "livenessProbe": _http_probe("/healthz", ports.http_name, period=10, failures=6),
    }


def _http_probe(path: str, port: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _env_port(container: ContainerSpec, name: str) -> int | None:
    for var in container.env:
        if var.name == name and var.secret_key is None and var.value.isdigit() and 0 < int(var.value) < 65536:
            return int(var.value)
    return None
