"""Running a zone's processes: own process groups, prefixed logs, restarts, and a clean stop.

Every process starts in a new session (its own process group), so that stopping it reaches its
children too: SIGTERM to the group, then SIGKILL after a grace period. On Linux each child also gets
PR_SET_PDEATHSIG, so it dies with the supervisor even if the supervisor is killed with SIGKILL.
A process that exits on its own is restarted with a growing delay, as a pod's restartPolicy would.
Docker containers run in the foreground (`docker run` passes SIGTERM on to them, and PDEATHSIG
reaches `docker run`); on stop every container of the run is removed with `docker rm -f`.
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from autonomy.cli.dev.plan import DevPod, DevProcess
from autonomy.cli.dev.sandbox import DockerRun, remove_containers, sandbox_address

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
    """Starts every pod of a plan, keeps its containers running, and stops them all.

    A local pod is its processes, each restarted on its own. A Docker pod is its sandbox first (the
    network namespace), then its containers joining it; when the sandbox itself exits, the pod's
    namespace is gone, so the whole pod restarts, as a Kubernetes pod whose sandbox died.
    """

    def __init__(
        self,
        pods: list[DevPod],
        printer: LogPrinter,
        *,
        docker: DockerRun | None = None,
        notice: Callable[[str], None] | None = None,
        restart: bool = True,
    ) -> None:
        self.pods = pods
        self.printer = printer
        self.docker = docker
        self.notice = notice or (lambda message: print(message, file=sys.stderr))
        self.restart = restart
        self._running: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        if any(pod.in_docker for pod in pods) and docker is None:
            raise ValueError("a plan with Docker pods needs a DockerRun")
        for pod in pods:
            if pod.in_docker:
                printer.register(pod.label)
            for process in pod.processes:
                printer.register(process.label)

    async def start(self) -> None:
        self._stopping = False
        self._tasks = []
        for pod in self.pods:
            if pod.in_docker:
                self._tasks.append(asyncio.create_task(self._keep_pod(pod)))
            else:
                self._tasks += [asyncio.create_task(self._keep_running(p)) for p in pod.processes]

    async def stop(self) -> None:
        """Stop every process (TERM, then KILL after the grace period) and remove every container."""
        self._stopping = True
        await self._stop_processes(list(self._running))
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Whatever a task started while the first round stopped the others.
        await self._stop_processes(list(self._running))
        if self.docker is not None:  # containers whose `docker run` was killed, and sandboxes
            await remove_containers(self.docker)
        self._tasks = []
        self._running.clear()

    async def restart_all(self) -> None:
        await self.stop()
        await self.start()

    async def _stop_processes(self, labels: list[str]) -> None:
        running = [self._running[label] for label in labels if label in self._running]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for process in running:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                await asyncio.wait_for(process.wait(), remaining)
            except TimeoutError:
                _signal_group(process, signal.SIGKILL)
                await process.wait()
        # Whatever still lives in a group after its leader exited goes too.
        for process in running:
            _signal_group(process, signal.SIGKILL)

    async def _keep_pod(self, pod: DevPod) -> None:
        assert self.docker is not None and pod.sandbox is not None
        backoff = 1.0
        while not self._stopping:
            started = time.monotonic()
            down = asyncio.Event()  # set when this sandbox is gone: its containers stop for good
            members: list[asyncio.Task[None]] = []
            await remove_containers(self.docker, [pod.sandbox])
            sandbox = await self._spawn_logged(pod.label, self.docker.sandbox_argv(pod), dict(os.environ))
            code: int | None = None
            if sandbox is not None:
                exited = asyncio.ensure_future(self._wait_logged(pod.label, sandbox))
                address = await _unless_done(sandbox_address(self.docker, pod.sandbox), exited)
                if address is not None:
                    members = [asyncio.create_task(self._keep_running(p, address, down)) for p in pod.processes]
                    self._tasks = [t for t in self._tasks if not t.done()] + members  # for `stop` to cancel
                elif not exited.done():  # running, yet no address on the zone network: start afresh
                    await self._stop_processes([pod.label])
                code = await exited
            down.set()
            if not self._stopping:
                await self._stop_processes([p.label for p in pod.processes])
            await asyncio.gather(*members, return_exceptions=True)
            if self._stopping or not self.restart:
                return
            await remove_containers(self.docker, [str(p.docker_name) for p in pod.processes])
            backoff = 1.0 if time.monotonic() - started > 60 else backoff
            self.notice(f"{pod.label}: its sandbox exited with code {code}; restarting the pod in {backoff:.0f} s")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _keep_running(
        self, spec: DevProcess, pod_ip: str | None = None, pod_down: asyncio.Event | None = None
    ) -> None:
        backoff = 1.0
        while not self._stopping and not (pod_down and pod_down.is_set()):
            started = time.monotonic()
            if spec.is_docker:
                assert self.docker is not None and pod_ip is not None
                await remove_containers(self.docker, [str(spec.docker_name)])
                argv, env = self.docker.container_argv(spec, pod_ip)
                process = await self._spawn_logged(spec.label, argv, {**os.environ, **env})
            else:
                process = await self._spawn_logged(spec.label, spec.argv, {**os.environ, **spec.env}, spec.cwd)
            code = await self._wait_logged(spec.label, process) if process is not None else None
            if self._stopping or not self.restart or (pod_down and pod_down.is_set()):
                return
            if time.monotonic() - started > 60:
                backoff = 1.0
            self.notice(f"{spec.label} exited with code {code}; restarting in {backoff:.0f} s")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _spawn_logged(
        self, label: str, argv: list[str], env: dict[str, str], cwd: Path | None = None
    ) -> asyncio.subprocess.Process | None:
        try:
            process = await _spawn(argv, env, cwd)
        except OSError as error:
            self.printer.line(label, f"cannot start {argv[:1]}: {error}")
            return None
        self._running[label] = process
        return process

    async def _wait_logged(self, label: str, process: asyncio.subprocess.Process) -> int:
        """Print the process's output until it exits; its exit code. (Cancelled, it stays in `_running`
        for `stop` to end.)"""
        assert process.stdout is not None
        async for raw in process.stdout:
            self.printer.line(label, raw.decode(errors="replace").rstrip("\r\n"))
        code = await process.wait()
        if self._running.get(label) is process:
            del self._running[label]
        return code


async def _unless_done(work: Awaitable[str | None], done: asyncio.Future[int]) -> str | None:
    """The result of `work`, or None when `done` finishes first (the sandbox exited)."""
    task = asyncio.ensure_future(work)
    waiting: set[asyncio.Future[Any]] = {task, done}
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return None


async def _spawn(argv: list[str], env: dict[str, str], cwd: Path | None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
