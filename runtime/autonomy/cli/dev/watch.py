"""Noticing file changes in a zone's folder, for `zone dev --watch`.

Polls modification times (no extra dependency, works on every filesystem); folders that change on
their own (virtualenvs, caches, VCS) are skipped.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".autonomy",
}


def snapshot(root: Path) -> dict[str, float]:
    files: dict[str, float] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        for name in names:
            if name.endswith((".pyc", ".swp", "~")):
                continue
            path = os.path.join(folder, name)
            try:
                files[path] = os.stat(path).st_mtime
            except FileNotFoundError:
                continue
    return files


def changed(before: dict[str, float], after: dict[str, float]) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


async def wait_for_change(root: Path, interval: float = 0.5, settle: float = 0.3) -> list[str]:
    """Return the paths that changed, once the folder stops changing for `settle` seconds."""
    before = await asyncio.to_thread(snapshot, root)
    while True:
        await asyncio.sleep(interval)
        now = await asyncio.to_thread(snapshot, root)
        diff = changed(before, now)
        if diff:
            await asyncio.sleep(settle)
            final = await asyncio.to_thread(snapshot, root)
            return changed(before, final)
