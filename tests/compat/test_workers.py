"""Workers, `Context`, `Mailbox`, `Worker` and `ToolFactory` in an app process, used as upstream's docs use them."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.compat.conftest import APPS
from tests.support.scripted_llm import Reply, Script


def test_workers_mailboxes_and_a_tool_factory(script: Script, app_env: dict[str, str]) -> None:
    # The model opens the locker, then says what the tool returned.
    script.when("open my locker", Reply(tool_calls=[("open_locker", {})]))
    script.when("locker of", Reply(text="opened"))
    env = {**app_env, "AUTONOMY_WAIT_UNTIL_INTERRUPTED": "0"}
    done = subprocess.run([sys.executable, str(APPS / "workers_app.py")], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = [line.split(" ", 1) for line in done.stdout.splitlines() if " " in line]
    out = {key: value for key, value in lines if key in ("SUM", "COUNTDOWN", "INBOX", "KINDS")}
    assert out["SUM"] == "3"
    assert json.loads(out["COUNTDOWN"]) == ["3...", "2...", "1...", "liftoff"]
    assert out["INBOX"] == "42"
    assert json.loads(out["KINDS"]) == [True, True, True]
    assert [value for key, value in lines if key == "LOCKER"] == ["opened", "opened"]
    # Each scope's conversation got its own tools from the factory.
    results = [m["content"] for body in script.requests for m in body["messages"] if m["role"] == "tool"]
    assert results == ["locker of keeper/alice/visit-1", "locker of keeper/bob/visit-1"]
