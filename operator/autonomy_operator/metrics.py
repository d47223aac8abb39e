"""Prometheus metrics of the operator, served on their own port."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

__all__ = ["APPLIES", "DELETES", "RECONCILES", "RECONCILE_SECONDS", "STATUS_PATCHES", "ZONES", "serve"]

RECONCILES = Counter("autonomy_operator_reconciles_total", "Zone reconciles by outcome.", ["outcome"])
RECONCILE_SECONDS = Histogram("autonomy_operator_reconcile_seconds", "Time to reconcile one zone.")
APPLIES = Counter("autonomy_operator_applies_total", "Server-side applies of children.", ["kind"])
DELETES = Counter(
    "autonomy_operator_deletes_total", "Children deleted because the spec dropped them.", ["kind"]
)
STATUS_PATCHES = Counter("autonomy_operator_status_patches_total", "Status patches written.", ["kind"])
ZONES = Gauge("autonomy_operator_zones", "Zones known to the operator.")


def serve(port: int) -> None:
    """Serve /metrics on `port` (0: not at all)."""
    if port:
        start_http_server(port)
