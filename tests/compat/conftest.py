"""Compat tests: apps of our own, written the way upstream's examples and docs use each API, run as a user
runs them (a `Node.start(main)` process, a terminal), against the scripted OpenAI-compatible model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.llm_fixtures import llm_server  # noqa: F401 - the scripted model, one per module
from tests.support.processes import REPO_DIR
from tests.support.scripted_llm import Script, ScriptedLLM

APPS = Path(__file__).with_name("apps")


@pytest.fixture
def script(llm_server: ScriptedLLM) -> Iterator[Script]:  # noqa: F811 - the fixture imported above
    llm_server.script.__init__()  # type: ignore[misc]  # a fresh script per test
    yield llm_server.script


@pytest.fixture
def app_env(llm_server: ScriptedLLM, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    """The environment of an app process: a lone node on loopback whose every model is the scripted one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTONOMY_", "ANTHROPIC_", "OPENAI_"))}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(REPO_DIR), env.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
        "OPENAI_BASE_URL": llm_server.base_url,
        "OPENAI_API_KEY": "test",
        "AUTONOMY_MODEL_PROVIDER": "openai",
        "AUTONOMY_DISCOVERY": "none",
        "AUTONOMY_TRANSPORT_PORT": "0",
        "AUTONOMY_DATA_DIR": str(tmp_path / "data"),
        "DEFAULT_HOST_HTTP": "127.0.0.1",
        "DEFAULT_PORT_HTTP": "0",
    })
    return env
