"""Running a zone's processes: own process groups, prefixed logs, restarts, and a clean stop.

Every process starts in a new session (its own process group), so that stopping it reaches its
children too: SIGTERM to the group, then SIGKILL after a grace period. On Linux each child also gets
PR_SET_PDEATHSIG, so it dies with the supervisor even if the supervisor is killed with SIGKILL.
A process that exits on its own is restarted with a growing delay, as a pod's restartPolicy would.
Docker containers are started with fixed names and removed with `docker rm -f` on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TextIO

from autonomy.cli.dev.plan import DevProcess

GRACE_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 30.0
_PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")


class LogPrinter:
    """Writes `label | line` to a stream; colors the label when the stream is a terminal."""

    def __init__(self, stream: TextIO | None = None, color: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.color = self.stream.isatty() if color is None else color
        self.width = 0
        self._colors: dict[str, str] = {}

    def register(self, label: str) -> None:
        self.width = max(self.width, len(label))
        self._colors.setdefault(label, _PALETTE[len(self._colors) % len(_PALETTE)])

    def line(self, label: str, text: str) -> None:
        prefix = f"{label:<{self.width}} |"
        if self.color:
            from rich.markup import escape
            from rich.text import Text

            rendered = Text.from_markup(f"[{self._colors.get(label, 'white')}]{escape(prefix)}[/] ")
            prefix_out = _ansi(rendered)
            self.stream.write(prefix_out + text + "\n")
        else:
            self.stream.write(f"{prefix} {text}\n")
        self.stream.flush()


def _ansi(text: object) -> str:
    from rich.console import Console

    console = Console(force_terminal=True, color_system="standard", width=10_000)
    with console.capture() as capture:
        console.print(text, end="")
    return capture.get()


def _die_with_parent() -> None:
    """In the child, before exec: receive SIGTERM when the supervisor dies (Linux only)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Supervisor:
    """Starts every process of a plan, keeps them running, and stops them all."""

    def __init__(
        self,
        processes: list[DevProcess],
        printer: LogPrinter,
        *,
        docker: str = "docker",
        notice: Callable[[str], None] | None = None,
        restart: bool = True,
    ) -> None:
        self.processes = processes
        self.printer = printer
        self.docker = docker
        self.notice = notice or (lambda message: print(message, file=sys.stderr))
        self.restart = restart
        self._running: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        for process in processes:
            printer.register(process.label)

    async def start(self) -> None:
        self._stopping = False
        self._tasks = [asyncio.create_task(self._keep_running(p)) for p in self.processes]

    async def stop(self) -> None:
        """Stop every process (TERM, then KILL after the grace period) and every Docker container."""
        self._stopping = True
        for process in list(self._running.values()):
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for process in list(self._running.values()):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                await asyncio.wait_for(process.wait(), remaining)
            except TimeoutError:
                _signal_group(process, signal.SIGKILL)
                await process.wait()
        # Whatever still lives in a group after its leader exited goes too.
        for process in list(self._running.values()):
            _signal_group(process, signal.SIGKILL)
        await self._remove_containers()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._running.clear()

    async def restart_all(self) -> None:
        await self.stop()
        await self.start()

    async def _keep_running(self, spec: DevProcess) -> None:
        backoff = 1.0
        while not self._stopping:
            started = time.monotonic()
            try:
                process = await self._spawn(spec)
            except OSError as error:
                self.printer.line(spec.label, f"cannot start {spec.argv[:1]}: {error}")
                code: int | None = None
            else:
                self._running[spec.label] = process
                assert process.stdout is not None
                async for raw in process.stdout:
                    self.printer.line(spec.label, raw.decode(errors="replace").rstrip("\r\n"))
                code = await process.wait()
                self._running.pop(spec.label, None)
            if self._stopping or not self.restart:
                return
            if time.monotonic() - started > 60:
                backoff = 1.0
            self.notice(f"{spec.label} exited with code {code}; restarting in {backoff:.0f} s")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _spawn(self, spec: DevProcess) -> asyncio.subprocess.Process:
        if spec.is_docker:
            await self._remove_container(spec)
            argv = [
                self.docker,
                "run",
                "--rm",
                "--init",
                "--name",
                str(spec.docker_name),
                "--network",
                "host",
            ]
            for key, value in spec.env.items():
                argv += ["-e", f"{key}={value}"]
            argv += [str(spec.docker_image), *spec.argv]
            env = dict(os.environ)
        else:
            argv = spec.argv
            env = {**os.environ, **spec.env}
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=spec.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    async def _remove_containers(self) -> None:
        await asyncio.gather(*(self._remove_container(p) for p in self.processes if p.is_docker))

    async def _remove_container(self, spec: DevProcess) -> None:
        process = await asyncio.create_subprocess_exec(
            self.docker,
            "rm",
            "-f",
            str(spec.docker_name),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await process.wait()


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
