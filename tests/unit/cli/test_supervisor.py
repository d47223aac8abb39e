"""The zone dev supervisor with real child processes: long output lines, and a stop that always ends."""

from __future__ import annotations

import asyncio
import io
import sys
import textwrap
import time

from autonomy.cli.dev.plan import DevPod, DevProcess
from autonomy.cli.dev.supervisor import MAX_LINE_BYTES, LineSplitter, LogPrinter, Supervisor


def _pod(script: str, label: str = "p/c[0]") -> DevPod:
    process = DevProcess(
        label=label,
        pod="p",
        container="c",
        clone=0,
        argv=[sys.executable, "-u", "-c", textwrap.dedent(script)],
        cwd=None,
        env={},
    )
    return DevPod(pod="p", clone=0, label="p[0]", processes=[process])


async def _wait_for(stream: io.StringIO, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while text not in stream.getvalue():
        assert time.monotonic() < deadline, f"{text!r} not printed within {timeout} s:\n{stream.getvalue()[-2000:]}"
        await asyncio.sleep(0.05)
    return stream.getvalue()


def _pids(stream: io.StringIO) -> list[int]:
    return [int(line.rsplit("pid=", 1)[1]) for line in stream.getvalue().splitlines() if "pid=" in line]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().split(b") ", 1)[1][:1] != b"Z"
    except OSError:
        return False


# A child that ignores SIGTERM, writes a 200 KiB line, then 2 MiB more in long lines (far more than a
# pipe holds: a child whose output is not read blocks), then says so and waits for ever.
STUBBORN_CHATTY = """
    import os, signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("pid=" + str(os.getpid()))
    print("x" * 200_000)
    for i in range(20):
        print(str(i) * 100_000)
    print("all written")
    while True:
        time.sleep(1)
"""


async def test_a_line_over_64_kib_is_split_the_child_runs_on_and_stop_ends_it() -> None:
    out = io.StringIO()
    supervisor = Supervisor([_pod(STUBBORN_CHATTY)], LogPrinter(out, color=False), grace=0.5, restart=False)
    await supervisor.start()
    try:
        text = await _wait_for(out, "all written", timeout=20)
    finally:
        started = time.monotonic()
        await asyncio.wait_for(supervisor.stop(), 10)  # SIGTERM is ignored: SIGKILL after the grace
    assert time.monotonic() - started < 5
    (pid,) = _pids(out)
    assert not _alive(pid)
    # Nothing lost: the pieces of the long line, markers removed, are the line; each piece says it is one.
    pieces = [line.split(" | ", 1)[1] for line in text.splitlines() if "x" * 100 in line]
    assert len(pieces) == -(-200_000 // MAX_LINE_BYTES)
    assert all(len(p.encode()) < MAX_LINE_BYTES + 100 for p in pieces)
    assert "".join(LineSplitter.unmark(p) for p in pieces) == "x" * 200_000
    assert all("continues" in p for p in pieces[:-1]) and all("continued" in p for p in pieces[1:])


async def test_stop_kills_a_child_that_ignores_sigterm_and_its_group() -> None:
    script = """
        import os, signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", "import signal, time; "
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
        print("pid=" + str(os.getpid()))
        print("pid=" + str(child.pid))
        print("both started")
        time.sleep(600)
    """
    out = io.StringIO()
    supervisor = Supervisor([_pod(script)], LogPrinter(out, color=False), grace=0.5, restart=False)
    await supervisor.start()
    await _wait_for(out, "both started", timeout=10)
    assert len(_pids(out)) == 2
    started = time.monotonic()
    await asyncio.wait_for(supervisor.stop(), 10)
    assert time.monotonic() - started < 4
    for pid in _pids(out):
        deadline = time.monotonic() + 2
        while _alive(pid):
            assert time.monotonic() < deadline, f"pid {pid} outlived the stop"
            await asyncio.sleep(0.05)


async def test_output_without_a_final_newline_is_printed_at_exit() -> None:
    out = io.StringIO()
    supervisor = Supervisor(
        [_pod("import sys; sys.stdout.write('first\\nlast, no newline')")],
        LogPrinter(out, color=False),
        restart=False,
    )
    await supervisor.start()
    await _wait_for(out, "last, no newline", timeout=10)
    await supervisor.stop()
    assert out.getvalue().splitlines() == ["p/c[0] | first", "p/c[0] | last, no newline"]


def test_splitter_keeps_short_lines_whole_across_chunks() -> None:
    splitter = LineSplitter(limit=10)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\r\nde\nf") == ["abc", "de"]
    assert splitter.close() == ["f"]
    assert splitter.close() == []


def test_splitter_splits_a_long_line_and_says_so() -> None:
    splitter = LineSplitter(limit=4)
    lines = splitter.feed(b"abcdefghij\nk\n")
    assert [LineSplitter.unmark(line) for line in lines] == ["abcd", "efgh", "ij", "k"]
    assert "continues" in lines[0] and "continued" in lines[1] and "continues" in lines[1]
    assert "continued" in lines[2] and "continues" not in lines[2]
    assert lines[3] == "k"


def test_splitter_exactly_at_the_limit_is_one_line() -> None:
    assert LineSplitter(limit=4).feed(b"abcd\n") == ["abcd"]


def test_splitter_never_cuts_a_utf8_character() -> None:
    splitter = LineSplitter(limit=5)
    text = "aaaé€😀b"  # 1 + 1 + 1 + 2 + 3 + 4 + 1 bytes
    lines = splitter.feed(text.encode() + b"\n")
    assert "\ufffd" not in "".join(lines)
    assert "".join(LineSplitter.unmark(line) for line in lines) == text


def test_splitter_of_invalid_utf8_replaces_and_goes_on() -> None:
    splitter = LineSplitter(limit=4)
    lines = splitter.feed(b"\x80\x80\x80\x80\x80\nok\n")
    assert lines[-1] == "ok" and len(lines) == 3


def test_unmark_leaves_a_plain_line_alone() -> None:
    assert LineSplitter.unmark("plain [text]") == "plain [text]"
