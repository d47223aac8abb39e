"""Async hygiene shared by the test tiers (STYLE.md: leaked tasks fail)."""

import asyncio

import pytest


@pytest.fixture(autouse=True)
async def no_leaked_tasks():
    """A node that stopped must leave no asyncio task behind (drains, links, watches, servers)."""
    before = asyncio.all_tasks()
    yield
    leaked: set[asyncio.Task] = set()
    for _ in range(20):
        leaked = {t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()}
        if not leaked:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"tasks still pending after the test: {sorted(t.get_name() for t in leaked)}")
