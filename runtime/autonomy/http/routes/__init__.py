"""Built-in routes of every node; each module holds one router, `ROUTERS` lists them in order."""

from fastapi import APIRouter

from autonomy.http.routes import agent_calls, agents, health, logs, workers

ROUTERS: list[APIRouter] = [health.router, workers.router, agents.router, agent_calls.router, logs.router]

__all__ = ["ROUTERS"]
