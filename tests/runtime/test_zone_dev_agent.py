"""`autonomy zone dev` of the agent example: its node and its MCP tool server run as local processes
(no Docker), the model is the scripted OpenAI-compatible server, and the agent answers over HTTP after
calling its Python tool and the MCP server's tool."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.scripted_llm import ScriptedLLM
from tests.zone_dev_support import AGENT, DevRun, ask_agent_example, free_port, script_agent_example


def test_agent_example_answers_after_its_python_tool_and_its_mcp_server(llm: ScriptedLLM, tmp_path: Path) -> None:
    script_agent_example(llm.script)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"OPENAI_API_KEY: test\nOPENAI_BASE_URL: {llm.base_url}\n")
    mcp = free_port()  # not the example's 8001: local pods share the host's loopback
    run = DevRun(
        AGENT / "autonomy.yaml",
        "--secrets",
        str(secrets),
        "-e",
        f"NOTES_MCP_PORT={mcp}",
        "-e",
        f"NOTES_MCP_URL=http://localhost:{mcp}/sse",
    )
    try:
        ask_agent_example(run, llm.script)
        assert {env["NODE"] for env in run.marked_pids().values() if "NODE" in env} == {"agent-main-pod-0"}
        assert "main-pod/tools |" in run.output() and "in Docker" not in run.output()
        assert run.stop(signal.SIGINT) == 0
        run.wait_none_left()
    finally:
        run.cleanup()
