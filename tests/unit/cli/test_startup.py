"""The CLI starts without the framework's heavy dependencies.

Every `autonomy` call, `--help` and each Tab of shell completion pay for what the console script's module
imports; with the LLM clients, MCP, FastAPI, gRPC and the kubernetes client that was seconds. Each case runs
in a fresh interpreter (this one has long since imported everything) and reports what got imported.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Top-level packages only commands that need them may load (seconds together; bench/cli_startup_bench.py).
# Not pydantic: typer itself imports it to convert parameters.
HEAVY = ("anthropic", "openai", "mcp", "grpc", "fastapi", "uvicorn", "kubernetes", "kubernetes_asyncio", "httpx",
         "urllib3")

# Runs the real console-script object as the shell would, then reports the heavy packages loaded.
PROBE = """
import contextlib, io, json, sys
from autonomy.cli.main import app
out = io.StringIO()
code = None
if sys.argv[1:] != ["--import-only"]:
    with contextlib.redirect_stdout(out):
        try:
            app(sys.argv[1:], prog_name="autonomy")
        except SystemExit as exit:
            code = exit.code
print(json.dumps({"code": code, "out": out.getvalue(), "heavy": [m for m in HEAVY if m in sys.modules]}))
"""


def probe(args: list[str], tmp_path: Path, **env: str) -> dict[str, Any]:
    environment = {**os.environ, "AUTONOMY_HOME": str(tmp_path / "home"), "KUBECONFIG": str(tmp_path / "none"),
                   **env}
    result = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", *args], env=environment,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return report


@pytest.mark.parametrize(
    ("args", "env", "shows"),
    [
        (["--import-only"], {}, ""),
        (["--help"], {}, "zone"),
        (["zone", "list", "--help"], {}, "--all-namespaces"),
        (["cluster", "enroll", "--help"], {}, "--install"),
        (["version"], {}, "0."),
        # What bash runs on `autonomy zone <Tab>` (typer's completion protocol).
        ([], {"_AUTONOMY_COMPLETE": "complete_bash", "COMP_WORDS": "autonomy zone ", "COMP_CWORD": "2"}, "deploy"),
        ([], {"_AUTONOMY_COMPLETE": "complete_bash", "COMP_WORDS": "autonomy zone list --a", "COMP_CWORD": "3"},
         "--all-namespaces"),
    ],
    ids=["import", "help", "zone-list-help", "cluster-enroll-help", "version", "complete-zone", "complete-option"],
)
def test_starting_the_cli_imports_no_heavy_package(
    args: list[str], env: dict[str, str], shows: str, tmp_path: Path
) -> None:
    report = probe(args, tmp_path, **env)
    assert report["code"] in (None, 0), report
    assert shows in str(report["out"]), report  # the command did its job, so the check below means something
    assert report["heavy"] == [], f"`autonomy {' '.join(args)}` imported {report['heavy']}"


def test_a_command_that_talks_to_a_cluster_loads_the_kubernetes_client(tmp_path: Path) -> None:
    """The control for the test above: the probe does see a package once a command imports it."""
    report = probe(["zone", "list"], tmp_path)
    assert report["code"] == 5  # no kubeconfig: exit CLUSTER, after loading the client
    assert "kubernetes" in report["heavy"] and "urllib3" in report["heavy"], report
    assert not {"anthropic", "openai", "mcp", "grpc", "fastapi"} & set(report["heavy"]), report
