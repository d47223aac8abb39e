"""The node's API key (env `API_KEY`): a dependency of the built-in routes, whatever app they are added to.

As upstream, the key may come as `?api_key=`; it is also taken from the `X-API-KEY` header or
`Authorization: Bearer <key>` (a key in the query ends up in access logs). Keys are compared in constant
time, and a refusal says only how to send a key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

_REFUSAL = "missing or wrong API key: send it in the X-API-KEY header, as Authorization: Bearer <key>, or as ?api_key="


def given_key(request: Request) -> str:
    header = request.headers.get("x-api-key")
    if header:
        return header
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.query_params.get("api_key", "")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def require_api_key(api_key: str) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that answers 401 unless the request carries `api_key`."""
    expected = _digest(api_key)

    async def check(request: Request) -> None:
        if not hmac.compare_digest(_digest(given_key(request)), expected):
            raise HTTPException(401, _REFUSAL, headers={"WWW-Authenticate": "Bearer"})

    return check
