"""Agents' long-term memory in a real PostgreSQL server: a node process keeps a conversation across its
restart, and one given a database it cannot reach fails at start with one clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.support.processes import free_port
from tests.support.scripted_llm import Reply, ScriptedLLM

AGENT_MAIN = Path(__file__).with_name("agent_node_main.py")
SPECS = json.dumps([{"name": "keeper", "instructions": "Remember.", "enable_long_term_memory": True}])


async def test_long_term_memory_in_postgres_survives_a_restart(
    local_zone: Any, llm: ScriptedLLM, postgres_url: str, tmp_path: Path
) -> None:
    env = {
        "AGENT_SPECS": SPECS,
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "t",
        "AUTONOMY_DATABASE_URL": postgres_url,
        "AUTONOMY_DATA_DIR": str(tmp_path / "data"),  # where SQLite would write, were it used
        "AUTONOMY_DISCOVERY": "none",
    }
    llm.script.responder = lambda body: Reply(text=f"noted ({len(body['messages'])} messages in context)")
    first = local_zone.start("z-keeper-pod-0", "keeper-pod", extra_env=env, script=AGENT_MAIN)
    body = {"message": "my number is 7", "scope": "alice", "conversation": "c"}
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"http://127.0.0.1:{first.http_port}/agents/keeper", json=body)
        assert answer.json()[-1]["content"]["text"] == "noted (2 messages in context)"
        assert first.terminate() == 0

        with psycopg.connect(postgres_url) as database:
            rows = database.execute("SELECT tenant_id, scope, conversation FROM conversation ORDER BY id").fetchall()
        assert rows == [("keeper", "alice", "c")] * 2
        assert not (tmp_path / "data").exists()

        second = local_zone.start("z-keeper-pod-0", "keeper-pod", extra_env=env, script=AGENT_MAIN)
        base = f"http://127.0.0.1:{second.http_port}"
        history = (await http.get(f"{base}/agents/keeper/scopes/alice/conversations/c")).json()
        texts = [m["content"]["text"] for m in history["conversations"][0]["messages"]]
        assert texts == ["my number is 7", "noted (2 messages in context)"]
        again = await http.post(f"{base}/agents/keeper", json={**body, "message": "what is my number?"})
        assert again.json()[-1]["content"]["text"] == "noted (4 messages in context)"
        assert "my number is 7" in json.dumps(llm.script.requests[-1]["messages"])


def test_an_unreachable_database_fails_the_node_at_start(llm: ScriptedLLM) -> None:
    env = {
        "AGENT_SPECS": SPECS,
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "t",
        "AUTONOMY_DATABASE_URL": f"postgresql://keeper:s3cret@127.0.0.1:{free_port()}/memory",
        "AUTONOMY_DISCOVERY": "none",
        "AUTONOMY_LOG_LEVEL": "WARNING",
        "NODE": "z-keeper-pod-0",
        "AUTONOMY_WAIT_UNTIL_INTERRUPTED": "1",
        "PYTHONUNBUFFERED": "1",
    }
    finished = subprocess.run(
        [sys.executable, str(AGENT_MAIN)], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 1
    assert "READY" not in finished.stdout
    errors = [line for line in finished.stderr.splitlines() if "StoreUnavailable: " in line]
    assert len(errors) == 1, finished.stderr
    assert "AUTONOMY_DATABASE_URL points at PostgreSQL keeper@127.0.0.1:" in errors[0]
    assert "Start the server or fix the host, port" in errors[0]
    assert "s3cret" not in finished.stderr
