"""Folder names for agents, scopes and conversations, and the private default base they live under.

`segment` maps an id to one folder name, injectively: letters, digits, `_ - @` and dots stay as they are
(so `alice` is `alice`), every other character becomes `~` and the hex of its UTF-8 bytes (`user:1` is
`user~3a1`, `a/b` is `a~2fb`, a leading dot is escaped too, so `..` is `~2e.`). Two ids never share a
folder. A name that would be too long for a file system becomes its start and a SHA-256 of the whole id
after `~~`, which no escaped name contains.

`private_base` is the default base: `<temp dir>/autonomy-<uid>/agent-files`, made 0700, and refused if
another user made it first (a shared, predictable /tmp path is not safe to trust).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-@.")
MAX_NAME_BYTES = 200  # file systems allow 255


def _escape(character: str) -> str:
    return "".join(f"~{byte:02x}" for byte in character.encode("utf-8", "surrogatepass"))


def segment(value: str | None) -> str:
    """The folder name of an id ('default' for none)."""
    if not value:
        return "default"
    escaped = "".join(c if c in _KEPT and not (c == "." and i == 0) else _escape(c) for i, c in enumerate(value))
    if len(escaped) <= MAX_NAME_BYTES:
        return escaped
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{escaped[:MAX_NAME_BYTES - 66].rstrip('~0123456789abcdef')}~~{digest}"


def private_base() -> Path:
    """The default base folder of agent files, private to this user."""
    parent = Path(tempfile.gettempdir()) / f"autonomy-{os.getuid()}"
    try:
        parent.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = parent.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(
            f"{parent} is not a private directory of this user (made by someone else, or open to others): "
            "remove it, or set AUTONOMY_FILES_DIR (or FilesystemTools(base_dir=...)) to a directory of your own"
        )
    return parent / "agent-files"
