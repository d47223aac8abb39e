"""pytest plugin: `postgres_server` (a real PostgreSQL server for the session) and `postgres_url` (a fresh,
empty database on it for one test, dropped afterwards).

Why: the PostgreSQL long-term memory store is tested against a real server, never a mock. The server is a
throwaway one (hack/postgres/server.py: Debian's binaries, initdb into a temporary directory, a free port
of 127.0.0.1), started on first use and stopped at the end of the session; or an existing server given by
``AUTONOMY_TEST_DATABASE_URL=postgresql://...`` (its user needs CREATEDB).

Under CI (``CI=true``) the PostgreSQL tests never skip: no binaries, no driver or a server that cannot
start fails them. Elsewhere they skip with the reason (run hack/postgres/setup.sh).

Registered from tests/conftest.py, so any test directory can request them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest

SERVER_PY = Path(__file__).resolve().parent.parent / "hack" / "postgres" / "server.py"


def load_server_module() -> ModuleType:
    """hack/postgres/server.py is a contributor script, not a package: load it by path, once."""
    name = "autonomy_hack_postgres_server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SERVER_PY)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    """Fail under CI, skip elsewhere: CI must never pass by skipping the PostgreSQL tests."""
    if _in_ci():
        pytest.fail(f"PostgreSQL unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@dataclass(frozen=True)
class PostgresServer:
    """A server the tests may create databases on: `url` reaches its maintenance database; `restart` (None
    on an existing server) stops it and starts it again, with its data, at the same address."""

    url: str
    restart: Callable[[], None] | None = None

    def database_url(self, name: str) -> str:
        """The same server, user and options, another database (a postgresql:// URL, as the framework takes)."""
        return urlsplit(self.url)._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed: pip install -e '.[dev]' (it brings the `postgres` extra)")
    existing = os.environ.get("AUTONOMY_TEST_DATABASE_URL")
    if existing:
        try:
            psycopg.connect(existing, connect_timeout=10).close()
        except psycopg.Error as error:
            pytest.fail(f"AUTONOMY_TEST_DATABASE_URL cannot be reached: {error}", pytrace=False)
        yield PostgresServer(existing)
        return
    server_module = load_server_module()
    try:
        # Started in the main thread: the server's parent-death signal fires when this thread ends.
        server = server_module.TemporaryPostgres().start()
    except server_module.PostgresUnavailable as error:
        _unavailable(str(error))
    try:
        yield PostgresServer(server.url, server.restart)
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL of a new, empty database (no table yet), dropped after the test with whatever still uses it."""
    import psycopg

    name = f"autonomy_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as connection:
        # From PostgreSQL 15 on, copying the template's files is ~20 times faster than the default WAL_LOG.
        strategy = " STRATEGY FILE_COPY" if connection.info.server_version >= 150000 else ""
        connection.execute(f'CREATE DATABASE "{name}"{strategy}')
    try:
        yield postgres_server.database_url(name)
    finally:
        with psycopg.connect(postgres_server.url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
