"""Running `autonomy zone dev` as a real subprocess in tests, and finding what it started.

Each run gets a unique marker in every container's environment (`-e AUTONOMY_TEST_MARK=...`), so a
test can find the processes a run started (and prove none is left) by reading /proc/*/environ: local
processes, `docker run` clients and the processes inside containers alike. Docker objects of a zone
carry the label `autonomy.computer/zone=<zone>` (`docker_objects`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from autonomy.cli.dev.plan import free_port as plan_free_port

ROOT = Path(__file__).resolve().parents[1]
AUTONOMY = str(Path(sys.executable).with_name("autonomy"))


def free_port() -> int:
    return plan_free_port()


class DevRun:
    def __init__(self, config: Path, *extra: str, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.mark = uuid.uuid4().hex
        self.port = port or free_port()
        self.log = Path(f"/tmp/autonomy-zone-dev-{self.mark[:8]}.log")
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [
                AUTONOMY,
                "zone",
                "dev",
                "--config",
                str(config),
                "--port",
                str(self.port),
                "-e",
                f"AUTONOMY_TEST_MARK={self.mark}",
                *extra,
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        self.started = time.monotonic()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def marked_pids(self) -> dict[int, dict[str, str]]:
        """pid -> environment of every live process started by this run."""
        found = {}
        needle = f"AUTONOMY_TEST_MARK={self.mark}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "environ").read_bytes()
                state = (entry / "stat").read_bytes().split(b") ", 1)[1][:1]
            except OSError:
                continue
            if needle in raw.split(b"\0") and state != b"Z":
                env = dict(item.decode(errors="replace").split("=", 1) for item in raw.split(b"\0") if b"=" in item)
                found[int(entry.name)] = env
        return found

    def get(self, path: str, timeout: float = 10) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=timeout)

    def wait_for(self, path: str, accept: Any, timeout: float = 60) -> Any:
        """Poll `path` until `accept(response)` is truthy; return its value."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"zone dev exited with {self.process.returncode}:\n{self.output()}")
            try:
                response = self.get(path)
                last = response.text
                value = accept(response)
                if value:
                    return value
            except httpx.HTTPError as error:
                last = repr(error)
            time.sleep(0.1)
        raise AssertionError(f"{path} not as expected within {timeout} s; last: {last}\n{self.output()}")

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        finally:
            self._log_file.close()
        return code

    def wait_output(self, *texts: str, timeout: float = 30) -> str:
        """The output once it holds every one of `texts` (zone dev prints a node's lines as they come)."""
        deadline = time.monotonic() + timeout
        while not all(text in (output := self.output()) for text in texts):
            if time.monotonic() > deadline:
                raise AssertionError(f"not all of {texts} in the output within {timeout} s:\n{output}")
            time.sleep(0.1)
        return output

    def wait_none_left(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.marked_pids():
            if time.monotonic() > deadline:
                raise AssertionError(f"processes left behind: {sorted(self.marked_pids())}")
            time.sleep(0.1)

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in self.marked_pids():
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        self._log_file.close()
        self.log.unlink(missing_ok=True)


def docker_objects(zone: str) -> dict[str, list[str]]:
    """Names of the containers (running or not) and networks labelled with `zone`."""
    label = f"label=autonomy.computer/zone={zone}"
    found = {}
    for kind, listing in (("containers", ["ps", "-a"]), ("networks", ["network", "ls"])):
        result = subprocess.run(
            ["docker", *listing, "--filter", label, "--format", "{{.Names}}" if kind == "containers" else "{{.Name}}"],
            capture_output=True,
            text=True,
            check=True,
        )
        found[kind] = sorted(result.stdout.split())
    return found


def wait_no_docker_objects(zone: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (left := docker_objects(zone)) != {"containers": [], "networks": []}:
        if time.monotonic() > deadline:
            raise AssertionError(f"left behind by zone dev: {left}")
        time.sleep(0.2)


def fanout_ok(response: httpx.Response) -> dict[str, Any] | None:
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body if len(body.get("runners", [])) == 3 else None


# -- the agent example (examples/agent): one scripted conversation, asserted over HTTP --------------

AGENT = ROOT / "examples" / "agent"
NOTE = "Deploy with autonomy zone deploy --wait; it builds images and applies the Zone."
QUESTION = "How many words are in the note about deployments?"


def script_agent_example(script: Any) -> None:
    """The model looks the note up on the MCP server, counts its words with the Python tool, answers."""
    from tests.support.scripted_llm import Reply

    def respond(body: dict[str, Any]) -> Reply | None:
        last = body["messages"][-1]
        if last["role"] == "user" and QUESTION in str(last["content"]):
            return Reply(tool_calls=[("notes_lookup_note", {"topic": "deployments"})])
        if last["role"] == "tool" and NOTE in str(last["content"]):
            return Reply(tool_calls=[("count_words", {"text": last["content"]})])
        if last["role"] == "tool":
            return Reply(text=f"The note about deployments has {last['content']} words.")
        return None

    script.responder = respond


def ask_agent_example(run: DevRun, script: Any, timeout: float = 60) -> None:
    """Ask the agent over HTTP once its node and its MCP server are up; check what reached the model."""
    run.wait_for("/readyz", lambda r: r.status_code == 200, timeout=timeout)
    run.wait_output("Uvicorn running on", timeout=timeout)  # the MCP server (main-pod/tools) listens
    response = httpx.post(f"http://127.0.0.1:{run.port}/agents/helper", json={"message": QUESTION}, timeout=60)
    assert response.status_code == 200, response.text
    words = len(NOTE.split())
    assert response.json()[-1]["content"]["text"] == f"The note about deployments has {words} words."
    requests = script.requests
    assert len(requests) == 3, [r["messages"][-1] for r in requests]
    offered = {tool["function"]["name"] for tool in requests[0]["tools"]}
    assert {"notes_lookup_note", "count_words"} <= offered
    # What the MCP server's tool returned reached the model, then what the Python tool returned.
    assert requests[1]["messages"][-1]["role"] == "tool" and requests[1]["messages"][-1]["content"] == NOTE
    assert requests[2]["messages"][-1]["role"] == "tool" and requests[2]["messages"][-1]["content"] == str(words)
