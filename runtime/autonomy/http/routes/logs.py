"""`/logs/levels`: read and change log levels of a running node."""

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from autonomy.logs import AVAILABLE_LEVELS, current_levels, set_log_level

router = APIRouter(tags=["logs"])


class LevelChange(BaseModel):
    level: str = Field(description="one of critical, error, warning, info, debug")
    module: str | None = Field(default=None, description="e.g. agent, node, transport; omit for all")


@router.get("/logs/levels")
async def get_levels() -> dict[str, Any]:
    return {"levels": current_levels(), "available_levels": AVAILABLE_LEVELS}


@router.post("/logs/levels")
async def change_level(change: LevelChange) -> dict[str, Any]:
    if change.level.lower() not in AVAILABLE_LEVELS:
        raise HTTPException(status_code=422,
                            detail=f"level {change.level!r} is not one of {', '.join(AVAILABLE_LEVELS)}")
    set_log_level(change.module, change.level)
    return {"status": "ok", "module": change.module, "level": change.level.lower(), "levels": current_levels()}
