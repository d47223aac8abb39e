"""Where a zone's containers may write: every root filesystem is read-only, these emptyDirs are not.

- `/tmp` and `/workspace` in every container of the pod, shared by them (upstream apps expect a
  writable /workspace; a tool server beside the node may read and write the same files).
- `/var/lib/autonomy` in each node container, a volume of its own, for what a node keeps:
  it is HOME (so `~/.cache` and the XDG defaults under it are writable) and holds AUTONOMY_DATA_DIR,
  where the agents' SQLite memory lives. Not in /workspace, which tools may read and write.

Python's bytecode cache is not needed: the node image sets PYTHONDONTWRITEBYTECODE, and where an
image does not, Python skips the cache when it cannot write it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NODE_STATE", "TMP", "WORKSPACE", "mounts", "node_state_env", "volumes"]

TMP = "/tmp"
WORKSPACE = "/workspace"
NODE_STATE = "/var/lib/autonomy"
#: Inside NODE_STATE; the node image sets the same values (images/node/Dockerfile).
NODE_HOME = NODE_STATE
NODE_DATA = f"{NODE_STATE}/data"

_TMP_VOLUME = "tmp"
_WORKSPACE_VOLUME = "workspace"


def _state_volume(container: str) -> str:
    return f"state-{container}"


def volumes(node_containers: list[str]) -> list[dict[str, Any]]:
    """The pod's writable volumes."""
    out = [{"name": _TMP_VOLUME, "emptyDir": {}}, {"name": _WORKSPACE_VOLUME, "emptyDir": {}}]
    out += [{"name": _state_volume(name), "emptyDir": {}} for name in node_containers]
    return out


def mounts(container: str, is_node: bool) -> list[dict[str, Any]]:
    """The writable places of one container."""
    out: list[dict[str, Any]] = [
        {"name": _TMP_VOLUME, "mountPath": TMP},
        {"name": _WORKSPACE_VOLUME, "mountPath": WORKSPACE},
    ]
    if is_node:
        out.append({"name": _state_volume(container), "mountPath": NODE_STATE})
    return out


def node_state_env() -> list[dict[str, Any]]:
    """HOME and AUTONOMY_DATA_DIR of a node container, in its own writable folder."""
    return [{"name": "HOME", "value": NODE_HOME}, {"name": "AUTONOMY_DATA_DIR", "value": NODE_DATA}]
