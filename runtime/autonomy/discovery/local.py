"""Local discovery: node processes on one machine announce themselves in a shared directory.

Each node writes `<name>.json` (name, pod, host, port, pid) atomically when it starts and removes it
when it stops. Readers skip entries whose process is gone, so a node killed with SIGKILL drops out on
the next read, and a restarted node simply overwrites its entry with its new port.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from autonomy.discovery.base import NodeInfo

logger = logging.getLogger("autonomy.discovery")


def default_registry_dir(cluster: str, zone: str) -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"autonomy-{os.getuid()}" / f"{cluster or 'local'}-{zone or 'default'}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().split(b") ", 1)[1][:1] != b"Z"
    except (OSError, IndexError):
        return True


class LocalDiscovery:
    """The registry directory backend."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._me: NodeInfo | None = None

    async def start(self, me: NodeInfo) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._me = me
        entry = {"name": me.name, "pod": me.pod, "host": me.host, "port": me.port, "pid": os.getpid()}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        with os.fdopen(fd, "w") as file:
            json.dump(entry, file)
        os.replace(tmp, self._path(me.name))

    async def stop(self) -> None:
        if self._me is not None:
            path = self._path(self._me.name)
            try:
                entry = json.loads(path.read_text())
                if entry.get("pid") == os.getpid():  # never remove a restarted twin's entry
                    path.unlink()
            except (OSError, ValueError):
                pass
            self._me = None

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    async def nodes(self) -> list[NodeInfo]:
        found: list[NodeInfo] = []
        try:
            paths = sorted(self.directory.glob("*.json"))
        except OSError:
            return found
        for path in paths:
            try:
                entry = json.loads(path.read_text())
                if not _alive(int(entry["pid"])):
                    continue
                found.append(NodeInfo(str(entry["name"]), str(entry["pod"]), str(entry["host"]),
                                      int(entry["port"])))
            except (OSError, ValueError, KeyError, TypeError):
                logger.debug("skipping unreadable registry entry %s", path)
        return found

    async def resolve(self, name: str) -> NodeInfo | None:
        try:
            entry = json.loads(self._path(name).read_text())
        except (OSError, ValueError):
            return None
        if not _alive(int(entry.get("pid", 0))):
            return None
        return NodeInfo(str(entry["name"]), str(entry["pod"]), str(entry["host"]), int(entry["port"]))
