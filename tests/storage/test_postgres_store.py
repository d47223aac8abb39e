"""What only the PostgreSQL store does: being chosen by AUTONOMY_DATABASE_URL, failing once and clearly on a
server it cannot use, several nodes creating its table at the same moment, and the server restarting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import psycopg
import pytest

from autonomy.agents import store as store_module
from autonomy.agents.store import PostgresStore, SqliteStore, StoreUnavailable, default_store
from tests.postgres_fixtures import PostgresServer
from tests.storage.test_store_contract import msgs, texts
from tests.support.processes import free_port


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No database variable from the outside, and default_store()'s cache left as it was found."""
    for name in ("AUTONOMY_DATABASE_URL", "OCKAM_DATABASE_CONNECTION_URL"):
        monkeypatch.delenv(name, raising=False)
    before = dict(store_module._STORES)
    yield monkeypatch
    for key, made in list(store_module._STORES.items()):
        if key not in before:
            del store_module._STORES[key]
            made.close()  # type: ignore[attr-defined]


def test_an_unreachable_server_fails_at_once_naming_the_variable_and_the_fix() -> None:
    url = f"postgresql://keeper:s3cret@127.0.0.1:{free_port()}/memory"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as raised:
        PostgresStore(url)
    assert time.monotonic() - started < 5  # a refused connection is not retried until a timeout
    message = str(raised.value)
    assert message.startswith("AUTONOMY_DATABASE_URL points at PostgreSQL keeper@127.0.0.1:")
    assert "/memory, which cannot be used" in message and "Connection refused" in message
    assert "Start the server or fix the host, port, user, password or database name" in message
    assert "s3cret" not in message and "\n" not in message


def test_a_missing_database_is_named_in_the_error(postgres_url: str) -> None:
    url = urlsplit(postgres_url)._replace(path="/no_such_database").geturl()
    with pytest.raises(StoreUnavailable, match='database "no_such_database" does not exist'):
        PostgresStore(url, variable="OCKAM_DATABASE_CONNECTION_URL")


def test_default_store_is_postgres_for_a_postgresql_url_and_made_once(
    clean_environment: pytest.MonkeyPatch, postgres_url: str
) -> None:
    clean_environment.setenv("AUTONOMY_DATABASE_URL", postgres_url)
    chosen = default_store()
    assert isinstance(chosen, PostgresStore)
    assert default_store() is chosen  # every agent of the node shares one pool


def test_default_store_names_the_variable_that_was_set(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("OCKAM_DATABASE_CONNECTION_URL", f"postgresql://u@127.0.0.1:{free_port()}/d")
    with pytest.raises(StoreUnavailable, match=r"^OCKAM_DATABASE_CONNECTION_URL points at PostgreSQL"):
        default_store()
    assert not any(isinstance(s, PostgresStore) for s in store_module._STORES.values())


def test_default_store_stays_sqlite_without_a_url(clean_environment: pytest.MonkeyPatch, tmp_path: object) -> None:
    clean_environment.setenv("AUTONOMY_DATA_DIR", str(tmp_path))
    assert isinstance(default_store(), SqliteStore)


def test_nodes_starting_together_create_the_table_once(postgres_url: str) -> None:
    with ThreadPoolExecutor(6) as pool:
        stores = list(pool.map(lambda _: PostgresStore(postgres_url), range(6)))
    for made in stores:
        made.close()
    with psycopg.connect(postgres_url) as connection:
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'conversation'").fetchone()
    assert tables == (1,)


async def test_the_store_carries_on_when_the_server_restarts(
    postgres_server: PostgresServer, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if postgres_server.restart is None:
        pytest.skip("AUTONOMY_TEST_DATABASE_URL: not our server to restart")
    store = PostgresStore(postgres_url)
    try:
        await store.append("agent", "s", "c", msgs("1"))
        await asyncio.gather(*(store.load("agent", "s", "c", None) for _ in range(16)))  # several connections
        # A busy store: its connections are fresh, so the first call after the restart finds one broken; a read
        # is simply run again, and the pool drops the other dead connections, so the append after it works.
        postgres_server.restart()
        assert texts(await store.load("agent", "s", "c", None)) == ["1"]
        await store.append("agent", "s", "c", msgs("2"))
        # A store idle for a while checks its connection before using it: an append comes first and works.
        monkeypatch.setattr(store_module, "IDLE_CHECK_SECONDS", 0.0)
        postgres_server.restart()
        await store.append("agent", "s", "c", msgs("3"))
        assert texts(await store.load("agent", "s", "c", None)) == ["1", "2", "3"]
    finally:
        store.close()
