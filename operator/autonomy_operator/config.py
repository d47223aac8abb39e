"""The operator's settings, read from its environment (the Helm chart sets them from values).

AUTONOMY_OPERATOR_WORKERS       zones reconciled at once (kopf's worker limit), default 20
AUTONOMY_OPERATOR_QPS           API requests per second the operator's writes may use, default 50
AUTONOMY_OPERATOR_BURST         burst above the QPS, default 100
AUTONOMY_OPERATOR_METRICS_PORT  Prometheus metrics port (0 = off), default 8080
AUTONOMY_OPERATOR_HEALTH_PORT   liveness endpoint port (GET /healthz), default 8081
AUTONOMY_OPERATOR_NAMESPACES    comma-separated namespaces to watch; empty = the whole cluster
AUTONOMY_OPERATOR_CLUSTER       name of the Cluster resource to use; empty = the only (or first) one
AUTONOMY_OPERATOR_CA_NAMESPACE  the operator's own namespace, where it keeps each zone's CA (a Secret zone
                                pods cannot read); empty = the pod's own namespace, and outside a pod the
                                node certificate signer is off
AUTONOMY_OPERATOR_NODE_CERT_SECONDS  lifetime of a node certificate, 600-86400, default 3600 (a CSR may
                                ask for less with expirationSeconds)
AUTONOMY_OPERATOR_NODE_CSR_CLUSTERROLE  the ClusterRole (from the chart) that lets a zone's nodes create
                                and read their CSRs; the operator binds it to each zone's ServiceAccount.
                                Empty = no binding made
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_NODE_CERT_SECONDS", "MIN_NODE_CERT_SECONDS", "OperatorConfig"]

#: Where a pod reads its own namespace (the ServiceAccount's projected volume).
POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
#: The CSR API's floor for expirationSeconds (10 minutes), and a day at most: node certificates are short.
MIN_NODE_CERT_SECONDS = 600
MAX_NODE_CERT_SECONDS = 86400


@dataclass(frozen=True)
class OperatorConfig:
    workers: int = 20
    qps: float = 50.0
    burst: int = 100
    metrics_port: int = 8080
    health_port: int = 8081
    namespaces: tuple[str, ...] = ()
    cluster: str = ""
    #: The namespace holding the zones' CA Secrets; empty = the node certificate signer is off.
    ca_namespace: str = ""
    node_cert_seconds: int = 3600
    node_csr_clusterrole: str = ""

    @property
    def signer_enabled(self) -> bool:
        return bool(self.ca_namespace)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, pod_namespace_file: Path = POD_NAMESPACE_FILE
    ) -> OperatorConfig:
        env = os.environ if env is None else env

        def number(name: str, default: float) -> float:
            raw = env.get(f"AUTONOMY_OPERATOR_{name}", "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"AUTONOMY_OPERATOR_{name}={raw!r} is not a number") from None
            if value < 0:
                raise ValueError(f"AUTONOMY_OPERATOR_{name}={raw!r} must be 0 or more")
            return value

        namespaces = tuple(
            n.strip() for n in env.get("AUTONOMY_OPERATOR_NAMESPACES", "").split(",") if n.strip()
        )
        return cls(
            workers=int(number("WORKERS", cls.workers)),
            qps=number("QPS", cls.qps),
            burst=int(number("BURST", cls.burst)),
            metrics_port=int(number("METRICS_PORT", cls.metrics_port)),
            health_port=int(number("HEALTH_PORT", cls.health_port)),
            namespaces=namespaces,
            cluster=env.get("AUTONOMY_OPERATOR_CLUSTER", "").strip(),
            ca_namespace=env.get("AUTONOMY_OPERATOR_CA_NAMESPACE", "").strip() or _pod_namespace(pod_namespace_file),
            node_cert_seconds=_cert_seconds(env),
            node_csr_clusterrole=env.get("AUTONOMY_OPERATOR_NODE_CSR_CLUSTERROLE", "").strip(),
        )


def _pod_namespace(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _cert_seconds(env: Mapping[str, str]) -> int:
    raw = env.get("AUTONOMY_OPERATOR_NODE_CERT_SECONDS", "").strip()
    if not raw:
        return OperatorConfig.node_cert_seconds
    if not raw.isdigit() or not MIN_NODE_CERT_SECONDS <= int(raw) <= MAX_NODE_CERT_SECONDS:
        raise ValueError(
            f"AUTONOMY_OPERATOR_NODE_CERT_SECONDS={raw!r} must be a whole number of seconds from "
            f"{MIN_NODE_CERT_SECONDS} to {MAX_NODE_CERT_SECONDS}"
        )
    return int(raw)
