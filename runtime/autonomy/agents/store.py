"""Long-term memory stores: every message of every conversation, surviving a node restart.

SQLite in a file by default (`AUTONOMY_DATA_DIR`, else `~/.autonomy/data`, file `memory.sqlite`); PostgreSQL
when `AUTONOMY_DATABASE_URL` (or upstream's `OCKAM_DATABASE_CONNECTION_URL`) is a `postgresql://` URL.
Database calls run in a thread so a slow disk never stalls the node's event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL, scope TEXT NOT NULL, conversation TEXT NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversation_thread ON conversation (tenant_id, scope, conversation, id);
"""


class Store(Protocol):
    async def append(self, tenant: str, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None: ...

    async def load(self, tenant: str, scope: str, conversation: str, last: int | None) -> list[dict[str, Any]]:
        """The conversation's messages, oldest first; only the `last` N when given."""
        ...

    async def conversations(self, tenant: str, scope: str | None) -> list[tuple[str, str]]: ...

    async def delete(self, tenant: str, scope: str, conversation: str) -> None: ...


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def _run(self, sql: str, rows: list[tuple[Any, ...]] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if isinstance(rows, list):
                self._connection.executemany(sql, rows)
                return []
            return self._connection.execute(sql, rows).fetchall()

    async def append(self, tenant: str, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        rows = [(tenant, scope, conversation, json.dumps(m)) for m in messages]
        sql = "INSERT INTO conversation (tenant_id, scope, conversation, message) VALUES (?, ?, ?, ?)"
        await asyncio.to_thread(self._run, sql, rows)

    async def load(self, tenant: str, scope: str, conversation: str, last: int | None) -> list[dict[str, Any]]:
        sql = (
            "SELECT message FROM conversation WHERE tenant_id = ? AND scope = ? AND conversation = ? "
            "ORDER BY id DESC LIMIT ?"
        )
        rows = await asyncio.to_thread(self._run, sql, (tenant, scope, conversation, -1 if last is None else last))
        return [json.loads(r[0]) for r in reversed(rows)]

    async def conversations(self, tenant: str, scope: str | None) -> list[tuple[str, str]]:
        if scope is None:
            sql = "SELECT DISTINCT scope, conversation FROM conversation WHERE tenant_id = ?"
            args: tuple[str, ...] = (tenant,)
        else:
            sql = "SELECT DISTINCT scope, conversation FROM conversation WHERE tenant_id = ? AND scope = ?"
            args = (tenant, scope)
        return [(r[0], r[1]) for r in await asyncio.to_thread(self._run, sql, args)]

    async def delete(self, tenant: str, scope: str, conversation: str) -> None:
        sql = "DELETE FROM conversation WHERE tenant_id = ? AND scope = ? AND conversation = ?"
        await asyncio.to_thread(self._run, sql, (tenant, scope, conversation))

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class PostgresStore:
    """The same table in PostgreSQL, through psycopg 3 (install `psycopg[binary]`)."""

    def __init__(self, url: str) -> None:
        try:
            import psycopg  # type: ignore[import-not-found]
        except ImportError as error:
            raise RuntimeError(
                "AUTONOMY_DATABASE_URL is a PostgreSQL URL but psycopg is not installed: "
                "pip install 'psycopg[binary]>=3.1', or unset it to use SQLite"
            ) from error
        self._connection = psycopg.connect(url, autocommit=True)
        self._lock = threading.Lock()
        with self._lock:
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS conversation (id BIGSERIAL PRIMARY KEY, tenant_id TEXT NOT NULL, "
                "scope TEXT NOT NULL, conversation TEXT NOT NULL, message TEXT NOT NULL)"
            )
            self._connection.execute(
                "CREATE INDEX IF NOT EXISTS conversation_thread ON conversation (tenant_id, scope, conversation, id)"
            )

    def _run(self, sql: str, args: Any = (), many: bool = False) -> list[tuple[Any, ...]]:
        with self._lock, self._connection.cursor() as cursor:
            if many:
                cursor.executemany(sql, args)
                return []
            cursor.execute(sql, args)
            return list(cursor.fetchall()) if cursor.description else []

    async def append(self, tenant: str, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        rows = [(tenant, scope, conversation, json.dumps(m)) for m in messages]
        sql = "INSERT INTO conversation (tenant_id, scope, conversation, message) VALUES (%s, %s, %s, %s)"
        await asyncio.to_thread(self._run, sql, rows, True)

    async def load(self, tenant: str, scope: str, conversation: str, last: int | None) -> list[dict[str, Any]]:
        sql = (
            "SELECT message FROM conversation WHERE tenant_id = %s AND scope = %s AND conversation = %s "
            "ORDER BY id DESC LIMIT %s"
        )
        rows = await asyncio.to_thread(self._run, sql, (tenant, scope, conversation, last))
        return [json.loads(r[0]) for r in reversed(rows)]

    async def conversations(self, tenant: str, scope: str | None) -> list[tuple[str, str]]:
        sql = "SELECT DISTINCT scope, conversation FROM conversation WHERE tenant_id = %s"
        args: tuple[str, ...] = (tenant,)
        if scope is not None:
            sql, args = sql + " AND scope = %s", (tenant, scope)
        return [(r[0], r[1]) for r in await asyncio.to_thread(self._run, sql, args)]

    async def delete(self, tenant: str, scope: str, conversation: str) -> None:
        sql = "DELETE FROM conversation WHERE tenant_id = %s AND scope = %s AND conversation = %s"
        await asyncio.to_thread(self._run, sql, (tenant, scope, conversation))


_STORES: dict[str, Store] = {}


def default_store() -> Store:
    """The node's long-term store, shared by all its agents, chosen by the environment."""
    url = os.environ.get("AUTONOMY_DATABASE_URL") or os.environ.get("OCKAM_DATABASE_CONNECTION_URL") or ""
    if url.startswith(("postgres://", "postgresql://")):
        key = url
        if key not in _STORES:
            _STORES[key] = PostgresStore(url)
        return _STORES[key]
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
    elif url:
        raise ValueError(
            f"AUTONOMY_DATABASE_URL={url!r} is not understood: use postgresql://user:pass@host/db "
            "or sqlite:////absolute/path.sqlite"
        )
    else:
        data_dir = os.environ.get("AUTONOMY_DATA_DIR") or os.path.expanduser("~/.autonomy/data")
        path = Path(data_dir) / "memory.sqlite"
    key = str(path.resolve())
    if key not in _STORES:
        _STORES[key] = SqliteStore(path)
    return _STORES[key]
