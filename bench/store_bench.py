"""Long-term memory store benchmark. Prints a table and writes bench/results/store.{json,md}.

What an agent does to its store: one `append` per exchange (here one message per append) and a `load`
of the last 1,000 messages when a conversation comes back after a restart. Measured per store:

  - appends/s with 1 writer (each append waits for the previous one: latency-bound);
  - appends/s with N writers at once, each on its own conversation (what a busy node does);
  - the mean time to load the last 1,000 messages of a conversation.

Stores: SQLite (a file in WAL mode, Python's default synchronous=FULL: durable; appends group-committed, one
transaction per batch of whatever waits), and PostgreSQL (a throwaway
server from hack/postgres/server.py with PostgreSQL's durable defaults: fsync and synchronous commit on)
through three designs: the store as shipped (a psycopg_pool of sync connections on the store's own
threads), the single sync connection behind a lock that it replaced, and an async connection pool
(`psycopg_pool.AsyncConnectionPool`, no threads), which was considered.

Each figure is the best of `--rounds` runs of `--seconds`, the stores taking turns round after round: on a
machine shared with other work, each store sees the same share of it, and the best run is the least disturbed.

Usage: python bench/store_bench.py [--seconds 2] [--rounds 3] [--writers 1,16,64]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from autonomy.agents.store import _POSTGRES_APPEND, _SQLITE_INSERT, PostgresStore, SqliteStore, _lock_key

RESULTS = Path(__file__).with_name("results")
SERVER_PY = Path(__file__).resolve().parent.parent / "hack" / "postgres" / "server.py"
MESSAGE = {
    "role": "user",
    "content": {"text": "a message of about a hundred bytes, as a short chat turn is " * 2, "type": "text"},
}


def load_server_module() -> Any:
    spec = importlib.util.spec_from_file_location("autonomy_hack_postgres_server", SERVER_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class SqliteAutocommitStore(SqliteStore):
    """SQLite as it was before group commit: each append its own autocommitted INSERTs, in a thread."""

    async def append(self, tenant: str, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        rows = [(tenant, scope, conversation, json.dumps(m)) for m in messages]
        await asyncio.to_thread(self._run, _SQLITE_INSERT, rows)


class SingleConnectionStore:
    """The PostgreSQL store before this benchmark: one sync connection behind a lock, calls in to_thread."""

    def __init__(self, url: str) -> None:
        PostgresStore(url).close()  # the table
        self._connection = psycopg.connect(url, autocommit=True)
        self._lock = threading.Lock()

    def _run(self, sql: str, args: Any, many: bool = False) -> list[Any]:
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

    def close(self) -> None:
        self._connection.close()


class AsyncPoolStore:
    """The design considered instead: the same statements on an AsyncConnectionPool, in the event loop.
    (It binds the store to one event loop, which a process-wide store shared by every agent cannot be.)"""

    def __init__(self, url: str, size: int = 8) -> None:
        PostgresStore(url).close()
        self._pool = AsyncConnectionPool(url, min_size=size, max_size=size, kwargs={"autocommit": True}, open=False)

    async def open(self) -> None:
        await self._pool.open(wait=True)

    async def append(self, tenant: str, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        args = {
            "lock": _lock_key(tenant, scope, conversation),
            "tenant": tenant,
            "scope": scope,
            "conversation": conversation,
            "messages": [json.dumps(m) for m in messages],
        }
        async with self._pool.connection() as connection:
            await connection.execute(_POSTGRES_APPEND, args)

    async def load(self, tenant: str, scope: str, conversation: str, last: int | None) -> list[dict[str, Any]]:
        sql = (
            "SELECT message FROM conversation WHERE tenant_id = %s AND scope = %s AND conversation = %s "
            "ORDER BY id DESC LIMIT %s"
        )
        async with self._pool.connection() as connection:
            rows = await (await connection.execute(sql, (tenant, scope, conversation, last))).fetchall()
        return [json.loads(r[0]) for r in reversed(rows)]

    async def aclose(self) -> None:
        await self._pool.close()


async def appends_per_second(store: Any, writers: int, seconds: float) -> float:
    count = 0
    deadline = time.monotonic() + seconds

    async def writer(w: int) -> None:
        nonlocal count
        while time.monotonic() < deadline:
            await store.append("bench", "s", f"w{writers}-{w}", [MESSAGE])
            count += 1

    started = time.monotonic()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return count / (time.monotonic() - started)


async def load_ms(store: Any, rounds: int = 20) -> float:
    await store.append("bench", "s", "long", [MESSAGE] * 1000)
    started = time.monotonic()
    for _ in range(rounds):
        assert len(await store.load("bench", "s", "long", 1000)) == 1000
    return (time.monotonic() - started) / rounds * 1000


async def measure(named: dict[str, Any], writers: list[int], seconds: float, rounds: int) -> list[dict[str, Any]]:
    """Round-robin over the stores, so that each sees the same share of whatever else the machine does."""
    best: dict[str, dict[str, float]] = {name: {} for name in named}
    for round_nb in range(rounds):
        for name, store in named.items():
            figures = best[name]
            for n in writers:
                key = f"appends/s, {n} writer{'s' if n > 1 else ''}"
                figures[key] = max(figures.get(key, 0.0), await appends_per_second(store, n, seconds))
            figures["load 1,000 (ms)"] = min(figures.get("load 1,000 (ms)", 1e9), await load_ms(store))
            print(f"round {round_nb + 1}: {name}: {figures}", file=sys.stderr, flush=True)
    return [
        {"store": name, **{k: round(v, 2) if k.startswith("load") else round(v) for k, v in figures.items()}}
        for name, figures in best.items()
    ]


async def run(seconds: float, rounds: int, writers: list[int]) -> dict[str, Any]:
    server_module = load_server_module()
    server = server_module.TemporaryPostgres(durable=True).start()
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            databases = iter(range(100))

            def fresh_database() -> str:
                name = f"bench{next(databases)}"
                with psycopg.connect(server.url, autocommit=True) as connection:
                    connection.execute(f'CREATE DATABASE "{name}"')
                return str(server.url).rsplit("/", 1)[0] + f"/{name}"

            async_pool = AsyncPoolStore(fresh_database())
            await async_pool.open()
            named: dict[str, Any] = {
                "SQLite (WAL, synchronous=FULL): group commit (shipped)": SqliteStore(Path(scratch) / "memory.sqlite"),
                "SQLite: one autocommit per append (before)": SqliteAutocommitStore(Path(scratch) / "before.sqlite"),
                "PostgreSQL: pool of 8 on threads (shipped)": PostgresStore(fresh_database()),
                "PostgreSQL: one connection + lock (before)": SingleConnectionStore(fresh_database()),
                "PostgreSQL: async pool of 8 (considered)": async_pool,
            }
            try:
                rows = await measure(named, writers, seconds, rounds)
            finally:
                await async_pool.aclose()
                for store in named.values():
                    if store is not async_pool:
                        store.close()
        version = server.version()
    finally:
        server.stop()
    return {
        "rows": rows,
        "seconds_per_round": seconds,
        "rounds": rounds,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": version,
            "psycopg": psycopg.__version__,
            "sqlite": __import__("sqlite3").sqlite_version,
        },
    }


def report(results: dict[str, Any]) -> str:
    rows = results["rows"]
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row[c]) for c in columns) + " |")
    machine = results["machine"]
    lines.append("")
    lines.append(
        f"{machine['cpus']} CPUs, Python {machine['python']}, {machine['postgres']}, psycopg "
        f"{machine['psycopg']}, SQLite {machine['sqlite']}; best of {results['rounds']} rounds of "
        f"{results['seconds_per_round']} s per figure; "
        "server and benchmark on the same machine (loopback)."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", default="1,16,64")
    args = parser.parse_args()
    results = asyncio.run(run(args.seconds, args.rounds, [int(n) for n in args.writers.split(",")]))
    table = report(results)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "store.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "store.md").write_text("# Long-term memory store benchmark (bench/store_bench.py)\n\n" + table + "\n")


if __name__ == "__main__":
    main()
