"""Fixtures for tests that talk to the scripted OpenAI-compatible server (imported by conftests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.scripted_llm import ScriptedLLM


@pytest.fixture(scope="module")
def llm_server() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM().start()
    yield server
    server.stop()


@pytest.fixture
async def llm(llm_server: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ScriptedLLM]:
    from tests.support.scripted_llm import Script

    llm_server.script.__init__()  # type: ignore[misc]  # a fresh script per test
    assert isinstance(llm_server.script, Script)
    for var in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "AUTONOMY_MODELS",
        "AUTONOMY_MODELS_FILE",
        "AUTONOMY_MODEL_PROVIDER",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    yield llm_server
    from autonomy.models.clients import close_clients

    await close_clients()  # the test's loop opened SDK clients (pools are per loop): they close with it
