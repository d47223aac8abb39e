"""The agent routes: call an agent (`POST /agents/{name}`, streamed as NDJSON or not), read it and its
conversations, and list the agents exposed as tools (`GET /tools`).

Shapes follow the reference (section j). Bad input gets a 4xx naming the field; an overloaded node
answers 503 (too many requests in flight) or 429 (one conversation has too many waiting) with
Retry-After, instead of queueing without bound.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pydantic
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from autonomy.agents.errors import AgentBusy, AgentError, AgentTimeoutError
from autonomy.errors import DeliveryError, MailboxFull
from autonomy.http.deps import NodeDep

router = APIRouter(tags=["agents"])

MAX_BODY_BYTES = int(os.environ.get("AUTONOMY_MAX_REQUEST_BYTES", str(1024 * 1024)))
MAX_IN_FLIGHT = int(os.environ.get("AUTONOMY_MAX_AGENT_REQUESTS", "20000"))


class AgentRequest(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")

    message: str | dict[str, Any] | list[Any] = pydantic.Field(description="the user message")
    scope: str = ""
    conversation: str = ""

    @pydantic.field_validator("message")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if value == "" or value == [] or value == {}:
            raise ValueError("message must not be empty")
        return value

    @pydantic.field_validator("scope", "conversation", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any) -> Any:
        return "" if value is None else value


class _InFlight:
    """Counts agent requests in flight on this node; beyond the limit, callers are told to come back."""

    def __init__(self) -> None:
        self.count = 0


_in_flight = _InFlight()


def _overloaded(detail: str, status: int = 503, retry_after: int = 1) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers={"Retry-After": str(retry_after)})


def _agent(node: Any, name: str) -> Any:
    agent = node.agents.get(name)
    if agent is None:
        raise HTTPException(status_code=404, detail=f"Agent '{name}' not found")
    return agent


async def _parse(request: Request) -> AgentRequest:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise HTTPException(413, f"request body over {MAX_BODY_BYTES} bytes (AUTONOMY_MAX_REQUEST_BYTES)")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, f"request body over {MAX_BODY_BYTES} bytes (AUTONOMY_MAX_REQUEST_BYTES)")
    try:
        data = json.loads(body or b"null")
    except json.JSONDecodeError as error:
        raise HTTPException(400, f"body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise HTTPException(422, 'body must be a JSON object like {"message": "...", "conversation": "..."}')
    try:
        return AgentRequest.model_validate(data)
    except pydantic.ValidationError as error:
        problems = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "error": e["msg"]} for e in error.errors()]
        raise HTTPException(422, problems) from None


def _error_response(error: Exception, timeout: float) -> JSONResponse:
    if isinstance(error, AgentBusy):
        return _overloaded(str(error), 429, 1)
    if isinstance(error, MailboxFull):
        return _overloaded(f"the agent is overloaded: {error}", 503, 1)
    if isinstance(error, AgentTimeoutError | TimeoutError):
        return JSONResponse({"detail": f"the agent did not answer within {timeout}s (timeout)"}, status_code=504)
    if isinstance(error, AgentError):
        status = 502 if error.code == "model" else 400 if error.code == "bad_request" else 500
        return JSONResponse({"detail": str(error), "code": error.code}, status_code=status)
    if isinstance(error, DeliveryError):
        return JSONResponse({"detail": f"Failed to send message: {error}"}, status_code=502)
    return JSONResponse({"detail": f"Failed to send message: {type(error).__name__}: {error}"}, status_code=500)


@router.get("/agents/{name}")
async def get_agent(name: str, node: NodeDep) -> dict[str, Any]:
    described: dict[str, Any] = _agent(node, name).describe()
    return described


@router.post("/agents/{name}", response_model=None)
async def call_agent(
    name: str,
    request: Request,
    node: NodeDep,
    stream: bool = Query(False, description="stream newline-delimited JSON snippets"),
    timeout: float = Query(180, gt=0, le=86400, description="seconds to wait for the agent"),
    content_size: int | None = Query(None, description="accepted for compatibility, unused"),
) -> Any:
    agent = _agent(node, name)
    body = await _parse(request)
    if _in_flight.count >= MAX_IN_FLIGHT:
        return _overloaded(f"this node has {MAX_IN_FLIGHT} agent requests in flight: retry later")
    from autonomy.agents.reference import AgentReference  # here: nodes without agents never load the agents layer

    reference = AgentReference(name, node, agent.settings.exposed_as)
    if not stream:
        _in_flight.count += 1
        try:
            reply = await reference.send_json(body.message, body.scope, body.conversation, timeout=timeout)
        except Exception as error:
            return _error_response(error, timeout)
        finally:
            _in_flight.count -= 1
        return JSONResponse(reply)

    _in_flight.count += 1
    parts: Any = reference.send_stream(body.message, body.scope, body.conversation, timeout=timeout)
    try:
        first = await parts.__anext__()  # errors before the first part still get a proper status
    except StopAsyncIteration:
        first = None
    except Exception as error:
        _in_flight.count -= 1
        return _error_response(error, timeout)

    async def lines() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                yield (json.dumps(first.to_json()) + "\n").encode()
                if not first.finished:
                    async for part in parts:
                        yield (json.dumps(part.to_json()) + "\n").encode()
        except Exception as error:
            yield (json.dumps({"type": "error", "detail": str(error) or type(error).__name__}) + "\n").encode()
        finally:
            _in_flight.count -= 1
            await parts.aclose()

    return StreamingResponse(lines(), media_type="application/json")


async def _conversations(node: Any, name: str, scope: str | None, conversation: str | None) -> dict[str, Any]:
    agent = _agent(node, name)
    found = await agent.ensure_core().memory.conversations(scope)
    if conversation is not None:
        found = [c for c in found if c["conversation"] == conversation]
    return {"conversations": found, "type": "get_conversations_response", "scope": scope, "conversation": conversation}


@router.get("/agents/{name}/conversations")
async def all_conversations(name: str, node: NodeDep) -> dict[str, Any]:
    return await _conversations(node, name, None, None)


@router.get("/agents/{name}/scopes/{scope}/conversations")
async def scope_conversations(name: str, scope: str, node: NodeDep) -> dict[str, Any]:
    return await _conversations(node, name, scope, None)


@router.get("/agents/{name}/scopes/{scope}/conversations/{conversation}")
async def one_conversation(name: str, scope: str, conversation: str, node: NodeDep) -> dict[str, Any]:
    return await _conversations(node, name, scope, conversation)


def _exposed(node: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "description": agent.settings.exposed_as,
            "input_schema": {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]},
        }
        for name, agent in node.agents.items()
        if getattr(agent.settings, "exposed_as", None)
    ]


@router.get("/tools")
async def list_tools(node: NodeDep) -> list[dict[str, Any]]:
    return _exposed(node)


@router.get("/tools/{name}")
async def get_tool(name: str, node: NodeDep) -> dict[str, Any]:
    for tool in _exposed(node):
        if tool["name"] == name:
            return tool
    raise HTTPException(404, f"Tool '{name}' not found (only agents started with exposed_as are tools)")
