"""The operator's settings, read from its environment (the Helm chart sets them from values).

AUTONOMY_OPERATOR_WORKERS       zones reconciled at once (kopf's worker limit), default 20
AUTONOMY_OPERATOR_QPS           API requests per second the operator's writes may use, default 50
AUTONOMY_OPERATOR_BURST         burst above the QPS, default 100
AUTONOMY_OPERATOR_METRICS_PORT  Prometheus metrics port (0 = off), default 8080
AUTONOMY_OPERATOR_HEALTH_PORT   liveness endpoint port (GET /healthz), default 8081
AUTONOMY_OPERATOR_NAMESPACES    comma-separated namespaces to watch; empty = the whole cluster
AUTONOMY_OPERATOR_CLUSTER       name of the Cluster resource to use; empty = the only (or first) one
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["OperatorConfig"]


@dataclass(frozen=True)
class OperatorConfig:
    workers: int = 20
    qps: float = 50.0
    burst: int = 100
    metrics_port: int = 8080
    health_port: int = 8081
    namespaces: tuple[str, ...] = ()
    cluster: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
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
        )
