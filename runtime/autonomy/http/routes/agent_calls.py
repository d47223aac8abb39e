"""The agent routes: call an agent (`POST /agents/{name}`, streamed as NDJSON or not), read it and its
conversations, and list the agents exposed as tools (`GET /tools`).

Shapes follow the reference (section j). Bad input gets a 4xx naming the field (the body is read with a
limit and checked by `autonomy.http.body`, the message parsed here, before anything reaches an agent); an
overloaded node answers 503 (too many requests in flight) or 429 (one conversation has too many waiting)
with Retry-After, instead of queueing without bound. A streamed answer is NDJSON, sent as
`application/json` as upstream does, or as `application/x-ndjson` to a client that accepts that.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import pydantic
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from autonomy.agents.errors import AgentBusy, AgentError, AgentTimeoutError
from autonomy.errors import DeliveryError, MailboxFull
from autonomy.http.body import load_json, read_body
from autonomy.http.deps import NodeDep, SettingsDep
from autonomy.http.settings import HttpSettings

router = APIRouter(tags=["agents"])

NDJSON = "application/x-ndjson"


class TextObject(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")

    text: str = ""
    type: Literal["text"] = "text"


class MessageObject(pydantic.BaseModel):
    """A message as an object (what `autonomy.agents.messages.parse_messages` takes)."""

    model_config = pydantic.ConfigDict(extra="allow")

    role: Literal["user", "assistant", "system", "tool"] = "user"
    content: str | TextObject | None = pydantic.Field(None, description='the text, or {"text": "..."}')


class AgentRequest(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")

    message: str | MessageObject | list[str | MessageObject] = pydantic.Field(
        description='the user message: a string, a message object like {"role": "user", "content": "..."}, '
        "or a non-empty list of them"
    )
    scope: str = pydantic.Field("", description="whose memory: one scope per user or tenant")
    conversation: str = pydantic.Field("", description="the conversation (thread) within the scope")

    @pydantic.field_validator("message", mode="before")
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


_UNION_MEMBERS = frozenset({"str", "MessageObject", "TextObject"})


def _problems(error: pydantic.ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """One entry per field (`message.0.role`), the members of a union left out of its name."""
    found: dict[str, list[str]] = {}
    for e in error.errors():
        parts = [str(p) for p in e["loc"] if not (isinstance(p, str) and (p in _UNION_MEMBERS or "[" in p))]
        field = ".".join([prefix, *parts]).strip(".") or "body"
        if e["msg"] not in found.setdefault(field, []):
            found[field].append(e["msg"])
    return [{"field": field, "error": " or ".join(messages)} for field, messages in found.items()]


async def _parse(request: Request, settings: HttpSettings) -> tuple[AgentRequest, list[Any]]:
    """The request and its messages, or a 4xx that names the field."""
    body = await read_body(request, settings.max_request_bytes, settings.read_timeout, "AUTONOMY_MAX_REQUEST_BYTES")
    data = load_json(body)
    if not isinstance(data, dict):
        raise HTTPException(422, 'body must be a JSON object like {"message": "...", "conversation": "..."}')
    try:
        parsed = AgentRequest.model_validate(data)
    except pydantic.ValidationError as error:
        raise HTTPException(422, _problems(error)) from None
    from autonomy.agents.messages import parse_messages  # here: nodes without agents never load the agents layer

    try:
        return parsed, parse_messages(data["message"])  # as sent: the model above checked its shape only
    except pydantic.ValidationError as error:
        raise HTTPException(422, _problems(error, "message")) from None
    except ValueError as error:
        raise HTTPException(422, [{"field": "message", "error": str(error)}]) from None


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"detail": {}}, "required": ["detail"]}}}}


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    """`schema` with its `$defs` references replaced by what they name (the document has no `$defs`)."""
    if isinstance(schema, dict):
        reference = schema.get("$ref", "")
        if reference.startswith("#/$defs/"):
            return _inlined(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inlined(value, definitions) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [_inlined(item, definitions) for item in schema]
    return schema


_REQUEST_SCHEMA = AgentRequest.model_json_schema()
_CALL_DOCUMENT: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inlined(_REQUEST_SCHEMA, _REQUEST_SCHEMA.get("$defs", {}))}},
    },
}
_CALL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the messages of this turn (a JSON array); with stream=true, one JSON snippet per line",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            NDJSON: {"schema": {"type": "object", "description": "a conversation_snippet per line"}},
        },
    },
    400: _problem("the body is not valid JSON in UTF-8, nests too deep, or holds a lone surrogate"),
    401: _problem("API_KEY is set and the request does not carry it"),
    404: _problem("no agent of that name"),
    408: _problem("the body did not arrive in time (AUTONOMY_HTTP_READ_TIMEOUT)"),
    413: _problem("the body is over AUTONOMY_MAX_REQUEST_BYTES"),
    422: _problem("a field is missing or wrong: the detail names it"),
    429: _problem("this conversation has too many messages waiting: retry after Retry-After seconds"),
    503: _problem("this node has too many agent calls in flight: retry after Retry-After seconds"),
    504: _problem("the agent did not answer within `timeout` seconds"),
}


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


@router.post("/agents/{name}", response_model=None, openapi_extra=_CALL_DOCUMENT, responses=_CALL_RESPONSES)
async def call_agent(
    name: str,
    request: Request,
    node: NodeDep,
    settings: SettingsDep,
    stream: bool = Query(False, description="stream newline-delimited JSON snippets"),
    timeout: float = Query(180, gt=0, le=86400, description="seconds to wait for the agent"),
    content_size: int | None = Query(None, description="accepted for compatibility, unused"),
) -> Any:
    agent = _agent(node, name)
    body, messages = await _parse(request, settings)
    if _in_flight.count >= settings.max_agent_requests:
        return _overloaded(f"this node has {settings.max_agent_requests} agent requests in flight: retry later")
    from autonomy.agents.reference import AgentReference

    reference = AgentReference(name, node, agent.settings.exposed_as)
    if not stream:
        _in_flight.count += 1
        try:
            reply = await reference.send_json(messages, body.scope, body.conversation, timeout=timeout)
        except Exception as error:
            return _error_response(error, timeout)
        finally:
            _in_flight.count -= 1
        return JSONResponse(reply)

    _in_flight.count += 1
    parts: Any = reference.send_stream(messages, body.scope, body.conversation, timeout=timeout)
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

    media_type = NDJSON if NDJSON in request.headers.get("accept", "") else "application/json"
    return StreamingResponse(lines(), media_type=media_type)


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
