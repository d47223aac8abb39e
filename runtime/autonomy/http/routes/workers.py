"""`GET /workers`: the app's workers on this node."""

from typing import Any

from fastapi import APIRouter

from autonomy.http.deps import NodeDep

router = APIRouter(tags=["workers"])


@router.get("/workers")
async def list_workers(node: NodeDep) -> dict[str, Any]:
    return {"workers": await node.list_workers()}
