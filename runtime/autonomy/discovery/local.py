"""Local discovery: node processes on one machine announce themselves in a shared directory.

Each node writes `<name>.json` (name, pod, host, port, pid) atomically when it starts, holds an
exclusive `flock` on it while it lives, and removes it when it stops. Readers skip entries nobody
holds locked: the kernel drops the lock when the process dies, however it dies (SIGKILL included).
A lock, not a pid, because `zone dev` runs some nodes in Docker containers (their own pid
namespaces) that share the directory through a bind mount; a lock on the inode is seen by all.
A restarted node simply replaces its entry with its new address.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from autonomy.discovery.base import NodeInfo

logger = logging.getLogger("autonomy.discovery")


def default_registry_dir(cluster: str, zone: str) -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"autonomy-{os.getuid()}" / f"{cluster or 'local'}-{zone or 'default'}"


def _read_live(path: Path) -> dict[str, Any] | None:
    """The entry at `path` if its node still holds it locked, else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # its node holds it: alive
        else:
            return None  # nobody holds it: its node is gone
        entry: dict[str, Any] = json.loads(os.read(fd, 1 << 16))
        return entry
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _info(entry: dict[str, Any]) -> NodeInfo:
    return NodeInfo(str(entry["name"]), str(entry["pod"]), str(entry["host"]), int(entry["port"]))


class LocalDiscovery:
    """The registry directory backend."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._me: NodeInfo | None = None
        self._fd: int | None = None  # the open, locked entry

    async def start(self, me: NodeInfo) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        entry = {"name": me.name, "pod": me.pod, "host": me.host, "port": me.port, "pid": os.getpid()}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            os.fchmod(fd, 0o644)  # readable by nodes running as other users (containers)
            os.write(fd, json.dumps(entry).encode())
            # Locked before it is visible, so no reader ever sees it unlocked while this node lives.
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.replace(tmp, self._path(me.name))
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._me, self._fd = me, fd

    async def stop(self) -> None:
        if self._me is None or self._fd is None:
            return
        path = self._path(self._me.name)
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == os.fstat(self._fd).st_ino:  # never remove a restarted twin's entry
                path.unlink()
        os.close(self._fd)
        self._me, self._fd = None, None

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    async def nodes(self) -> list[NodeInfo]:
        found: list[NodeInfo] = []
        try:
            paths = sorted(self.directory.glob("*.json"))
        except OSError:
            return found
        for path in paths:
            entry = _read_live(path)
            if entry is None:
                continue
            try:
                found.append(_info(entry))
            except (ValueError, KeyError, TypeError):
                logger.debug("skipping unreadable registry entry %s", path)
        return found

    async def resolve(self, name: str) -> NodeInfo | None:
        entry = _read_live(self._path(name))
        try:
            return _info(entry) if entry is not None else None
        except (ValueError, KeyError, TypeError):
            return None
