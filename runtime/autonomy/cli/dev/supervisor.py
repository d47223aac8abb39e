"""Running a zone's processes: own process groups, prefixed logs, restarts, and a clean stop.

Every process starts in a new session (its own process group), so that stopping it reaches its
children too: SIGTERM to the group, then SIGKILL after a grace period. On Linux each child also gets
PR_SET_PDEATHSIG, so it dies with the supervisor even if the supervisor is killed with SIGKILL.
A process that exits on its own is restarted with a growing delay, as a pod's restartPolicy would.
Output is read in chunks, never by `readline` (whose 64 KiB limit would end the reader and leave the
child blocked on a full pipe): a line longer than MAX_LINE_BYTES is printed in pieces that say so.
Stopping is bounded whatever a child does: it waits for exits (not for pipes to close), and gives up
on a process that SIGKILL cannot end, saying so.
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
#: After SIGKILL: how long to wait for the exit before giving up on a process (one in the D state).
KILL_WAIT_SECONDS = 2.0
#: On stop: how long the log readers of stopped processes get to print their last lines.
DRAIN_SECONDS = 1.0
#: Longest line printed whole; longer ones are printed in pieces of this size (bytes of UTF-8).
MAX_LINE_BYTES = 64 * 1024
_READ_BYTES = 64 * 1024
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


class LineSplitter:
    """A child's output bytes in, printable lines out; nothing is dropped.

    A line longer than `limit` bytes comes out in pieces of at most `limit` bytes (never cutting a
    UTF-8 character), each piece but the last ending with CONTINUES and each but the first starting
    with CONTINUED, so a reader knows the line was split. Invalid UTF-8 is replaced, never fatal.
    """

    CONTINUES = " [... continues: line longer than {limit} bytes, split]"
    CONTINUED = "[... continued] "

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        if limit < 4:
            raise ValueError("limit must hold one UTF-8 character (4 bytes)")
        self.limit = limit
        self._buffer = bytearray()
        self._continuing = False  # the next piece is the rest of a split line

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        lines: list[str] = []
        while True:
            newline = self._buffer.find(b"\n", 0, self.limit + 1)
            if newline != -1:
                lines.append(self._piece(newline, skip=1, ends=True))
            elif len(self._buffer) > self.limit:
                lines.append(self._piece(_utf8_cut(self._buffer, self.limit), skip=0, ends=False))
            else:
                return lines

    def close(self) -> list[str]:
        """What is left at end of output (a last line without a newline)."""
        if not self._buffer and not self._continuing:
            return []
        return [self._piece(len(self._buffer), skip=0, ends=True)]

    @classmethod
    def unmark(cls, line: str) -> str:
        """The text of a printed piece without the markers (to check that nothing was lost)."""
        if line.startswith(cls.CONTINUED):
            line = line[len(cls.CONTINUED) :]
        head, sep, _ = line.rpartition(" [... continues: ")
        return head if sep and line.endswith(", split]") else line

    def _piece(self, end: int, *, skip: int, ends: bool) -> str:
        raw = bytes(self._buffer[:end])
        del self._buffer[: end + skip]
        text = raw.decode("utf-8", errors="replace")
        if ends:
            text = text.removesuffix("\r")
        if self._continuing:
            text = self.CONTINUED + text
        if not ends:
            text += self.CONTINUES.format(limit=self.limit)
        self._continuing = not ends
        return text


def _utf8_cut(buffer: bytearray, limit: int) -> int:
    """Where to cut `buffer` at most `limit` bytes in: not inside a UTF-8 character (when it is UTF-8)."""
    cut = limit
    while cut > limit - 3 and buffer[cut] & 0xC0 == 0x80:  # a continuation byte: back to its start
        cut -= 1
    return cut if buffer[cut] & 0xC0 != 0x80 else limit


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
        grace: float = GRACE_SECONDS,
    ) -> None:
        self.pods = pods
        self.grace = grace
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
        """Stop every process (TERM, then KILL after the grace period) and remove every container.

        Bounded: about grace + KILL_WAIT_SECONDS + DRAIN_SECONDS (twice, for processes started meanwhile).
        """
        self._stopping = True
        await self._stop_processes(list(self._running))
        tasks = list(self._tasks)
        if tasks:  # readers print what the stopped processes wrote last, then end on their own
            await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
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
        running = {label: self._running[label] for label in labels if label in self._running}
        for process in running.values():
            _signal_group(process, signal.SIGTERM)
        left = await _exits(list(running.values()), self.grace)
        for process in left:
            _signal_group(process, signal.SIGKILL)
        for process in await _exits(left, KILL_WAIT_SECONDS):
            label = next(name for name, p in running.items() if p is process)
            self.notice(f"{label}: pid {process.pid} did not exit after SIGKILL; leaving it")
        # Whatever still lives in a group after its leader exited goes too.
        for label, process in running.items():
            _signal_group(process, signal.SIGKILL)
            if self._running.get(label) is process:
                del self._running[label]

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
        splitter = LineSplitter()
        while chunk := await process.stdout.read(_READ_BYTES):
            for line in splitter.feed(chunk):
                self.printer.line(label, line)
        for line in splitter.close():
            self.printer.line(label, line)
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


async def _exits(processes: list[asyncio.subprocess.Process], timeout: float) -> list[asyncio.subprocess.Process]:
    """Wait up to `timeout` for the processes to exit; those still running.

    Polls the exit status instead of awaiting `Process.wait()`, which also waits for the output pipe
    to close, and that never happens while a grandchild holds it or the pipe's reader has stopped.
    """
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in processes if p.returncode is None]
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(0.02)


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
