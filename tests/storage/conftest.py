"""The long-term memory stores, each on a real database: a SQLite file, and a fresh database on a real
PostgreSQL server (tests/postgres_fixtures.py). `backend` gives one of each to every contract test."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from autonomy.agents.store import PostgresStore, SqliteStore, Store
from tests.hygiene import no_leaked_tasks  # noqa: F401 - autouse fixture


@dataclass
class Backend:
    """One database, and what the tests do with it besides the store's own calls."""

    name: str
    location: str
    make: Callable[[], Any]
    # A context in which another connection holds the table's write lock, so the store's writes wait.
    write_lock: Callable[[], contextlib.AbstractContextManager[None]]
    opened: list[Any] = field(default_factory=list)

    def open(self) -> Store:
        """A new store on the same database (a node process starting again)."""
        store = self.make()
        self.opened.append(store)
        return store  # type: ignore[no-any-return]

    def close_all(self) -> None:
        for store in self.opened:
            store.close()
        self.opened.clear()


def _sqlite(path: Path) -> Backend:
    @contextlib.contextmanager
    def write_lock() -> Iterator[None]:
        other = sqlite3.connect(str(path), isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            yield
            other.execute("COMMIT")
        finally:
            other.close()

    return Backend("sqlite", str(path), lambda: SqliteStore(path), write_lock)


def _postgres(url: str) -> Backend:
    import psycopg

    @contextlib.contextmanager
    def write_lock() -> Iterator[None]:
        with psycopg.connect(url) as other, other.transaction():
            other.execute("LOCK TABLE conversation IN EXCLUSIVE MODE")  # readers go on, writers wait
            yield

    return Backend("postgres", url, lambda: PostgresStore(url), write_lock)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        chosen = _sqlite(tmp_path / "memory.sqlite")
    else:
        chosen = _postgres(request.getfixturevalue("postgres_url"))
    try:
        yield chosen
    finally:
        chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()
