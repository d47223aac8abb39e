"""Probes: `/healthz` says the process serves HTTP; `/readyz` says the node can take part in its zone.

Ready means all of: HTTP answers (this route runs), the transport server listens, discovery has the
node (announced), and no stop was asked for. A Kubernetes pod is a zone member only while Ready, so a
node that has not joined yet, or is leaving, answers 503 with the reason instead.
"""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from autonomy.http.deps import NodeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(node: NodeDep) -> JSONResponse:
    reason = not_ready_reason(node)
    if reason is None:
        return JSONResponse({"status": "ready", "node": node.name})
    return JSONResponse({"status": "not ready", "node": node.name, "reason": reason}, status_code=503)


def not_ready_reason(node: Any) -> str | None:
    """Why the node is not ready, or None when it is. Checked in this order, since a stopping node
    still has its transport and its place in discovery for a moment."""
    if node.stopping:
        return "stopping"
    if not node.transport_port:
        return "starting: the transport is not listening yet"
    if not node.ready:
        return "starting: not announced to discovery yet"
    return None
