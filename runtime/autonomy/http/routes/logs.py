"""`/logs/levels`: read and change log levels of a running node.

A change names a logger the node has (`autonomy.<module>`), or one of the modules of upstream's
`AUTONOMY_LOG_LEVEL`; other names are refused, so the node keeps no name it is given. The body is small
and read with a limit.
"""

import logging
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from autonomy.http.body import bounded_route
from autonomy.logs import AVAILABLE_LEVELS, ROOT, current_levels, set_log_level

MAX_BODY_BYTES = 4096
#: The modules upstream documents for per-module levels (they may have no logger here yet).
UPSTREAM_MODULES = frozenset({
    "agent", "model", "http", "memory", "node", "node.local", "node.remote", "tool", "context", "subagents",
    "voice_agent", "filesystem_tools", "workspace",
})  # fmt: skip

router = APIRouter(tags=["logs"], route_class=bounded_route(MAX_BODY_BYTES))


class LevelChange(BaseModel):
    level: str = Field(max_length=16, description="one of critical, error, warning, info, debug")
    module: str | None = Field(default=None, max_length=200,
                               description="e.g. agent, node, transport; omit for all")


def known_modules() -> set[str]:
    prefix = ROOT + "."
    names = {name[len(prefix):] for name in list(logging.root.manager.loggerDict) if name.startswith(prefix)}
    return names | UPSTREAM_MODULES


@router.get("/logs/levels")
async def get_levels() -> dict[str, Any]:
    return {"levels": current_levels(), "available_levels": AVAILABLE_LEVELS}


@router.post("/logs/levels", responses={413: {"description": f"the body is over {MAX_BODY_BYTES} bytes"}})
async def change_level(change: LevelChange) -> dict[str, Any]:
    if change.level.lower() not in AVAILABLE_LEVELS:
        raise HTTPException(status_code=422,
                            detail=f"level {change.level!r} is not one of {', '.join(AVAILABLE_LEVELS)}")
    module = change.module or None
    if module not in (None, ROOT) and module not in known_modules():
        raise HTTPException(status_code=422, detail=f"module {module[:64]!r} is not a logger of this node: "
                                                    "use one of GET /logs/levels, or a module like agent or node")
    set_log_level(module, change.level)
    return {"status": "ok", "module": change.module, "level": change.level.lower(), "levels": current_levels()}
