"""Local discovery: an entry counts while its node process holds it locked, whoever reads it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from autonomy.discovery.base import NodeInfo
from autonomy.discovery.local import LocalDiscovery

HOLDER = """
import asyncio, sys
from pathlib import Path
from autonomy.discovery.base import NodeInfo
from autonomy.discovery.local import LocalDiscovery

async def main():
    await LocalDiscovery(Path(sys.argv[1])).start(NodeInfo(sys.argv[2], "runner-pod", "10.0.0.7", 50051))
    print("up", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def _holder(registry: Path, name: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(registry), name], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "up"
    return process


async def test_a_node_sees_itself_and_others_until_they_die(tmp_path: Path) -> None:
    me = LocalDiscovery(tmp_path)
    await me.start(NodeInfo("main", "main-pod", "127.0.0.1", 4000))
    other = _holder(tmp_path, "runner-0")
    try:
        assert {n.name for n in await me.nodes()} == {"main", "runner-0"}
        assert await me.resolve("runner-0") == NodeInfo("runner-0", "runner-pod", "10.0.0.7", 50051)
        assert oct((tmp_path / "runner-0.json").stat().st_mode & 0o777) == "0o644"  # readable by any user
        os.kill(other.pid, signal.SIGKILL)
        other.wait()
        # Its entry stays behind, but nobody holds it: it is gone for readers at once.
        assert (tmp_path / "runner-0.json").exists()
        assert [n.name for n in await me.nodes()] == ["main"]
        assert await me.resolve("runner-0") is None
    finally:
        other.kill()
        other.wait()
        assert other.stdout is not None
        other.stdout.close()
        await me.stop()
    assert not (tmp_path / "main.json").exists()


async def test_stopping_never_removes_the_entry_of_a_restarted_twin(tmp_path: Path) -> None:
    old = LocalDiscovery(tmp_path)
    await old.start(NodeInfo("n", "p", "127.0.0.1", 1))
    new = LocalDiscovery(tmp_path)
    await new.start(NodeInfo("n", "p", "127.0.0.1", 2))
    await old.stop()
    reader = LocalDiscovery(tmp_path)
    assert await reader.resolve("n") == NodeInfo("n", "p", "127.0.0.1", 2)
    await new.stop()
    assert await reader.nodes() == []


async def test_unreadable_and_stray_entries_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text("{not json")
    (tmp_path / "old.json").write_text('{"name": "old", "pod": "p", "host": "h", "port": 1, "pid": 1}')
    started = time.monotonic()
    assert await LocalDiscovery(tmp_path).nodes() == []
    assert time.monotonic() - started < 1
