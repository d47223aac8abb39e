"""Built-in routes of every node; each module holds one router. `OPEN_ROUTERS` are the probes, open to
all; `ROUTERS`, in order, are the rest, behind the API key when one is set."""

from fastapi import APIRouter

from autonomy.http.routes import agent_calls, agents, health, logs, workers

OPEN_ROUTERS: list[APIRouter] = [health.router]
ROUTERS: list[APIRouter] = [workers.router, agents.router, agent_calls.router, logs.router]

__all__ = ["OPEN_ROUTERS", "ROUTERS"]
