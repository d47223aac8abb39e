"""Start and stop helper subprocesses in tests; nothing outlives its test."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def start_python(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_DIR), os.environ.get("PYTHONPATH", "")]),
    }
    full_env.update(env or {})
    return subprocess.Popen([sys.executable, *args], env=full_env, cwd=str(REPO_DIR))


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class FollowedOutput:
    """A command whose stdout is read line by line as it comes (`kubectl logs -f`, say), so a test can
    wait a bounded time for a line instead of blocking on a pipe forever."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output

    def wait_for(self, wanted: Callable[[str], bool], timeout: float) -> str:
        """The first line (after those already taken) for which `wanted` holds; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self.lines.put(None)
                raise AssertionError(f"output ended (exit {self.process.wait()}) before the line; got {self.seen}")
            self.seen.append(line)
            if wanted(line):
                return line
        raise AssertionError(f"no such line after {timeout:.0f} s; got {self.seen}")

    def stop(self) -> str:
        """Stop the command (SIGTERM, then SIGKILL) and return its stderr."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(5)  # it reads to the end of the output before the pipe is closed
        stderr = self.process.stderr.read() if self.process.stderr is not None else ""
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        return stderr
