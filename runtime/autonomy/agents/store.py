"""Long-term memory stores: every message of every conversation, surviving a node restart.

SQLite in a file by default (`AUTONOMY_DATA_DIR`, else `~/.autonomy/data`, file `memory.sqlite`); PostgreSQL
when `AUTONOMY_DATABASE_URL` (or upstream's `OCKAM_DATABASE_CONNECTION_URL`) is a `postgresql://` URL (install
the `postgres` extra). Database calls run in threads so a slow disk or server never stalls the node's event loop.
Both stores keep one table, `conversation`, one row per message; tests/storage holds them to one contract.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # an optional dependency (the `postgres` extra): imported only when a store is made
    import psycopg

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


_SQLITE_INSERT = "INSERT INTO conversation (tenant_id, scope, conversation, message) VALUES (?, ?, ?, ?)"


def _settle(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class SqliteStore:
    """Appends are group-committed: whatever was appended while the previous write ran goes in one
    transaction, so a busy node pays one fsync (and one thread hop) per batch, not one per message.
    Measured at 1,000 calls in flight: one autocommitted INSERT per message kept the writer thread busy
    with fsyncs, and each completion woke the event loop through its self-pipe."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.executescript(_SCHEMA)
        self._lock = threading.Lock()
        # appends waiting for the writer: rows, and the future of the caller waiting on them
        self._pending: list[tuple[list[tuple[Any, ...]], asyncio.Future[None]]] = []
        self._pending_lock = threading.Lock()
        self._writing = False

    def _run(self, sql: str, rows: list[tuple[Any, ...]] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if isinstance(rows, list):
                self._connection.executemany(sql, rows)
                return []
            return self._connection.execute(sql, rows).fetchall()

    async def append(self, tenant: str, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        rows = [(tenant, scope, conversation, json.dumps(m)) for m in messages]
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        with self._pending_lock:
            self._pending.append((rows, written))
            start, self._writing = not self._writing, True
        if start:
            loop.run_in_executor(None, self._write_pending)
        await written

    def _write_pending(self) -> None:
        """The writer (in a thread): batches in arrival order, until no append waits."""
        while True:
            with self._pending_lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._writing = False
                    return
            error: Exception | None = None
            try:
                with self._lock:
                    self._connection.execute("BEGIN")
                    try:
                        self._connection.executemany(_SQLITE_INSERT, [row for rows, _ in batch for row in rows])
                    except BaseException:
                        self._connection.execute("ROLLBACK")
                        raise
                    self._connection.execute("COMMIT")
            except Exception as failure:  # every caller of the batch hears of it
                error = failure
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for _, future in batch:
                by_loop.setdefault(future.get_loop(), []).append(future)
            for loop, futures in by_loop.items():  # one wake-up per loop, not one per caller
                with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits any more
                    loop.call_soon_threadsafe(_settle, futures, error)

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


class StoreUnavailable(RuntimeError):
    """The configured long-term store cannot be used: its driver is missing or its server unreachable. Raised
    once, when the store is made (as the agent starts), with what to fix in the message."""


class PostgresStore:
    """The same table in PostgreSQL, through psycopg 3 (the `postgres` extra: `psycopg[binary]`, `psycopg-pool`).

    Calls run on the store's own threads, each on a pooled autocommit connection: conversations are written
    in parallel (up to `pool_size` at once), a slow database never stalls the event loop, and the store is
    bound to no event loop, so one instance serves every agent of the process.

    The server may restart under a running node: a connection idle for a while is checked (one round trip)
    before use, and when a call finds its connection broken, every idle one is checked and the dead replaced,
    so one call at most fails. That call is run again when that is safe (a read, a delete, or an append that
    never reached the server); an append that may have been written is not, and its caller hears of it.
    """

    def __init__(
        self, url: str, *, pool_size: int = 8, connect_timeout: float = 10.0, variable: str = "AUTONOMY_DATABASE_URL"
    ) -> None:
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
            from psycopg_pool import ConnectionPool
        except ImportError as error:
            raise StoreUnavailable(
                f"{variable} is a PostgreSQL URL but psycopg is not installed: "
                "pip install 'autonomy-computer[postgres]' (psycopg[binary] and psycopg-pool), "
                f"or unset {variable} to use SQLite"
            ) from error
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as error:
            raise StoreUnavailable(f"{variable} is not a valid PostgreSQL URL: {error}") from error
        where = _describe(params)
        options: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params:  # libpq waits forever by default
            options["connect_timeout"] = max(1, round(connect_timeout))
        # Reach the server now, once: a wrong URL fails the agent's start with one clear error, not every message.
        try:
            with psycopg.connect(url, **options) as connection:
                _create_postgres_schema(connection)
        except psycopg.Error as error:
            reason = " ".join(str(error).split())
            raise StoreUnavailable(
                f"{variable} points at PostgreSQL {where}, which cannot be used ({reason}). Start the server "
                f"or fix the host, port, user, password or database name in {variable}; unset {variable} "
                "to keep long-term memory in SQLite instead"
            ) from error
        self._pool = ConnectionPool(
            url, kwargs=options, min_size=1, max_size=pool_size, open=True, name="autonomy-memory"
        )
        self._executor = ThreadPoolExecutor(pool_size, thread_name_prefix="autonomy-postgres")
        self._operational_error = psycopg.OperationalError
        self._check_connection = ConnectionPool.check_connection
        self._last_used: dict[int, float] = {}  # by id() of the connection; each is used by one thread at a time

    async def _call(
        self, sql: str, args: dict[str, Any] | tuple[Any, ...], idempotent: bool = True
    ) -> list[tuple[Any, ...]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, sql, args, idempotent)

    def _run(self, sql: str, args: dict[str, Any] | tuple[Any, ...], idempotent: bool) -> list[tuple[Any, ...]]:
        for attempt in (1, 2):
            with self._pool.connection() as connection:
                sent = False
                try:
                    if time.monotonic() - self._last_used.get(id(connection), 0.0) > IDLE_CHECK_SECONDS:
                        self._check_connection(connection)
                    sent = True
                    cursor = connection.execute(sql, args)
                    rows = cursor.fetchall() if cursor.description else []
                except self._operational_error as error:
                    if not connection.broken:
                        raise
                    failure, again = error, attempt == 1 and (idempotent or not sent)
                else:
                    self._last_used[id(connection)] = time.monotonic()
                    return rows
            # Out of the block, the pool has dropped the broken connection; its idle siblings likely died too.
            self._pool.check()
            if not again:
                raise failure
        raise AssertionError("unreachable")

    async def append(self, tenant: str, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        args = {
            "lock": _lock_key(tenant, scope, conversation),
            "tenant": tenant,
            "scope": scope,
            "conversation": conversation,
            "messages": [json.dumps(m) for m in messages],
        }
        await self._call(_POSTGRES_APPEND, args, idempotent=False)

    async def load(self, tenant: str, scope: str, conversation: str, last: int | None) -> list[dict[str, Any]]:
        sql = (
            "SELECT message FROM conversation WHERE tenant_id = %s AND scope = %s AND conversation = %s "
            "ORDER BY id DESC LIMIT %s"
        )
        rows = await self._call(sql, (tenant, scope, conversation, last))
        return [json.loads(r[0]) for r in reversed(rows)]

    async def conversations(self, tenant: str, scope: str | None) -> list[tuple[str, str]]:
        sql = "SELECT DISTINCT scope, conversation FROM conversation WHERE tenant_id = %s"
        args: tuple[str, ...] = (tenant,)
        if scope is not None:
            sql, args = sql + " AND scope = %s", (tenant, scope)
        return [(r[0], r[1]) for r in await self._call(sql, args)]

    async def delete(self, tenant: str, scope: str, conversation: str) -> None:
        sql = "DELETE FROM conversation WHERE tenant_id = %s AND scope = %s AND conversation = %s"
        await self._call(sql, (tenant, scope, conversation))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._pool.close()


# A connection unused for longer is checked before use: the server may have restarted meanwhile.
IDLE_CHECK_SECONDS = 5.0

# One statement, so one round trip for any number of messages. The transaction-scoped advisory lock on the
# conversation makes concurrent appends to one conversation take their ids one batch after the other (as
# SQLite's single writer does): a batch's messages stay together and in order, whichever process wrote them.
_POSTGRES_APPEND = """
WITH turn AS (SELECT pg_advisory_xact_lock(%(lock)s))
INSERT INTO conversation (tenant_id, scope, conversation, message)
SELECT %(tenant)s, %(scope)s, %(conversation)s, message
FROM turn, unnest(%(messages)s::text[]) WITH ORDINALITY AS batch(message, position)
ORDER BY position
"""


def _create_postgres_schema(connection: psycopg.Connection[Any]) -> None:
    # Nodes starting together would race on CREATE ... IF NOT EXISTS (a unique violation in the catalog):
    # a lock taken for the transaction makes them take turns.
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key("autonomy", "schema", "conversation"),))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS conversation (id BIGSERIAL PRIMARY KEY, tenant_id TEXT NOT NULL, "
            "scope TEXT NOT NULL, conversation TEXT NOT NULL, message TEXT NOT NULL)"
        )
        connection.execute(
            "CREATE INDEX IF NOT EXISTS conversation_thread ON conversation (tenant_id, scope, conversation, id)"
        )


def _lock_key(*parts: str) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock (the same in every process, unlike hash())."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _describe(params: dict[str, Any]) -> str:
    """Where a URL points, without its password."""
    host = params.get("host") or params.get("hostaddr") or "localhost"
    user = params.get("user") or "(default user)"
    return f"{user}@{host}:{params.get('port') or 5432}/{params.get('dbname') or params.get('user') or ''}"


_STORES: dict[str, Store] = {}


def default_store() -> Store:
    """The node's long-term store, shared by all its agents, chosen by the environment."""
    url = os.environ.get("AUTONOMY_DATABASE_URL") or os.environ.get("OCKAM_DATABASE_CONNECTION_URL") or ""
    if url.startswith(("postgres://", "postgresql://")):
        if url not in _STORES:
            variable = (
                "AUTONOMY_DATABASE_URL" if os.environ.get("AUTONOMY_DATABASE_URL") else "OCKAM_DATABASE_CONNECTION_URL"
            )
            store = PostgresStore(url, variable=variable)
            atexit.register(store.close)  # say goodbye to the server rather than drop the connections
            _STORES[url] = store
        return _STORES[url]
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
