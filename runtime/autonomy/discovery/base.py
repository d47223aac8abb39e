"""What discovery reports about a node."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeInfo:
    name: str  # unique node name (the Kubernetes pod name, or `<zone>-<pod>-<clone>` locally)
    pod: str  # the seed pod it belongs to, e.g. "runner-pod"
    host: str
    port: int  # transport (gRPC) port


def matches_filter(info: NodeInfo, filter: str | None) -> bool:
    """Upstream semantics: `filter` is a substring of the seed pod name ("runner" finds `runner-pod`)."""
    return not filter or filter in info.pod
