"""`GET /agents`: the agents on this node (the agents layer adds the rest of the agent routes)."""

from typing import Any

from fastapi import APIRouter

from autonomy.http.deps import NodeDep

router = APIRouter(tags=["agents"])


@router.get("/agents")
async def list_agents(node: NodeDep) -> dict[str, Any]:
    return {"agents": await node.list_agents()}
