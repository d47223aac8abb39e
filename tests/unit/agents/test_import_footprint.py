"""An agent node loads only the SDKs it uses.

A node's memory at rest is mostly imported code, and the `regular` pod of docs/design.md has 256 Mi for it all.
Importing every SDK up front took a fresh agent node from 57 MB to 145 MB: the Anthropic SDK is ~60 MB and
the MCP SDK ~40 MB, even for an app that only talks to an OpenAI-compatible endpoint and has no MCP server.
Each case runs in a fresh interpreter (this one has long since imported everything).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Everything an app with an OpenAI-compatible agent touches, up to the model's client.
OPENAI_AGENT = """
import json, sys
from autonomy import Agent, Model, Node, Tool
import autonomy.agents.agent, autonomy.http.server
model = Model("gpt-test")
model._client()  # the SDK client, built as the first call builds it (needs no running server)
print(json.dumps({m: m in sys.modules for m in ("openai", "anthropic", "mcp")}))
"""

ON_DEMAND = """
import json, sys
from autonomy import McpClient, McpTool, Model
before = "anthropic" in sys.modules
Model("claude-test")._client()
print(json.dumps({"mcp": "mcp" in sys.modules, "anthropic_before": before, "anthropic": "anthropic" in sys.modules,
                  "McpClient": McpClient.__module__}))
"""


def run(code: str, **env: str) -> dict[str, object]:
    # wrap in a loop: SDK clients are kept per event loop
    wrapped = "import asyncio\nasync def _main():\n" + "".join(f"    {line}\n" for line in code.strip().splitlines())
    wrapped += "asyncio.run(_main())\n"
    result = subprocess.run(
        [sys.executable, "-c", wrapped], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_openai_agent_node_never_loads_the_anthropic_or_mcp_sdk() -> None:
    seen = run(OPENAI_AGENT, OPENAI_BASE_URL="http://127.0.0.1:9/v1", OPENAI_API_KEY="x")
    assert seen == {"openai": True, "anthropic": False, "mcp": False}


def test_the_other_sdks_load_when_first_used() -> None:
    seen = run(ON_DEMAND, ANTHROPIC_API_KEY="x", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
    assert seen == {"mcp": True, "anthropic_before": False, "anthropic": True, "McpClient": "autonomy.tools.mcp_client"}
