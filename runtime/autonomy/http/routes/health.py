"""Probes: `/healthz` says the process serves; `/readyz` says the node is up and not stopping."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from autonomy.http.deps import NodeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(node: NodeDep) -> JSONResponse:
    if node.ready:
        return JSONResponse({"status": "ready", "node": node.name})
    return JSONResponse({"status": "not ready", "node": node.name}, status_code=503)
