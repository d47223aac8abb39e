"""`FilesystemTools`: a private directory per agent, scope or conversation, as tools.

The "deep work" idea: an agent keeps notes, plans and memory in files. The root depends on visibility:
`all` -> base/, `agent` -> base/agent/, `scope` -> base/agent/scope/, `conversation` ->
base/agent/scope/conversation/ (missing parts become `default`). Every path a model gives is resolved,
symlinks included, and refused if it leaves the root.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from pathlib import Path
from typing import Literal

from autonomy.tools.function import Tool

Visibility = Literal["all", "agent", "scope", "conversation"]
VISIBILITIES: tuple[str, ...] = ("all", "agent", "scope", "conversation")
DEFAULT_BASE_DIR = "/tmp/agent-files"
MAX_READ_BYTES = 2_000_000


def _segment(value: str | None) -> str:
    """A directory name for an agent, scope or conversation; anything unsafe becomes '_'."""
    cleaned = re.sub(r"[^A-Za-z0-9_.@-]", "_", value or "") or "default"
    return "_" if cleaned in {".", ".."} else cleaned


class Filesystem:
    """The tools bound to one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, path: str) -> Path:
        candidate = (self.root / str(path).lstrip("/")).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            raise PermissionError(f"path {path!r} is outside this agent's filesystem; use paths under '/'")
        return candidate

    def _show(self, path: Path) -> str:
        return "/" + str(path.relative_to(self.root)) if path != self.root else "/"

    def list_directory(self, path: str = ".") -> str:
        """List the files and directories in a directory (directories end with '/')."""
        directory = self._path(path)
        if not directory.is_dir():
            raise FileNotFoundError(f"no directory {path!r}")
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
        return "\n".join(p.name + ("/" if p.is_dir() else "") for p in entries) or "(empty)"

    def read_file(self, path: str, start_line: int | None = None, end_line: int | None = None) -> str:
        """Read a text file, optionally only lines start_line..end_line (1-based, inclusive)."""
        file = self._path(path)
        if not file.is_file():
            raise FileNotFoundError(f"no file {path!r}")
        if file.stat().st_size > MAX_READ_BYTES:
            raise ValueError(f"file {path!r} is over {MAX_READ_BYTES} bytes: read it by line range")
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        first = max(1, start_line or 1)
        last = end_line if end_line is not None else len(lines)
        return "".join(lines[first - 1 : last])

    def write_file(self, path: str, content: str) -> str:
        """Create or overwrite a text file, creating parent directories."""
        file = self._path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(content, encoding="utf-8")
        return f"wrote {len(content)} characters to {self._show(file)}"

    def edit_file(self, path: str, old_string: str, new_string: str, replace_all: bool = False) -> str:
        """Replace old_string with new_string in a file (once, unless replace_all)."""
        file = self._path(path)
        text = file.read_text(encoding="utf-8")
        count = text.count(old_string)
        if not old_string or count == 0:
            raise ValueError(f"old_string not found in {path!r}")
        if count > 1 and not replace_all:
            raise ValueError(f"old_string occurs {count} times in {path!r}: make it unique or set replace_all")
        file.write_text(text.replace(old_string, new_string, -1 if replace_all else 1), encoding="utf-8")
        return f"replaced {count if replace_all else 1} occurrence(s) in {self._show(file)}"

    def find_files(self, pattern: str) -> str:
        """Find files whose path matches a glob pattern, e.g. '*.md' or 'notes/**/*.txt'."""
        matches = [
            self._show(p)
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and (fnmatch.fnmatch(p.name, pattern) or p.match(pattern))
        ]
        return "\n".join(matches) or "(no matches)"

    def search_in_files(
        self,
        pattern: str,
        path: str = ".",
        case_sensitive: bool = True,
        context_lines: int = 0,
        show_line_numbers: bool = True,
        max_results: int = 100,
    ) -> str:
        """Search files for a regular expression; returns matching lines with their file names."""
        regex = re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
        start = self._path(path)
        files = [start] if start.is_file() else sorted(p for p in start.rglob("*") if p.is_file())
        results: list[str] = []
        for file in files:
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
            for number, line in enumerate(lines, 1):
                if not regex.search(line):
                    continue
                low, high = max(1, number - context_lines), min(len(lines), number + context_lines)
                for n in range(low, high + 1):
                    prefix = f"{self._show(file)}:{n}:" if show_line_numbers else f"{self._show(file)}:"
                    results.append(prefix + lines[n - 1])
                if len(results) >= max_results:
                    return "\n".join(results[:max_results])
        return "\n".join(results) or "(no matches)"

    def remove_file(self, path: str) -> str:
        """Delete a file."""
        file = self._path(path)
        if not file.is_file():
            raise FileNotFoundError(f"no file {path!r}")
        file.unlink()
        return f"removed {self._show(file)}"

    def remove_directory(self, path: str, recursive: bool = False) -> str:
        """Delete a directory (it must be empty unless recursive)."""
        directory = self._path(path)
        if directory == self.root:
            raise PermissionError("the root directory cannot be removed")
        if recursive:
            shutil.rmtree(directory)
        else:
            directory.rmdir()
        return f"removed {self._show(directory)}"

    def copy_file(self, source: str, destination: str) -> str:
        """Copy a file."""
        target = self._path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._path(source), target)
        return f"copied to {self._show(target)}"

    def move_file(self, source: str, destination: str) -> str:
        """Move or rename a file."""
        target = self._path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(source), target)
        return f"moved to {self._show(target)}"

    def tools(self) -> list[Tool]:
        return [
            Tool(getattr(self, name))
            for name in (
                "list_directory", "read_file", "write_file", "edit_file", "find_files", "search_in_files",
                "remove_file", "remove_directory", "copy_file", "move_file",
            )
        ]  # fmt: skip


class FilesystemTools:
    """A tool factory: `create_tools(scope, conversation, agent_name)` gives the tools for that root."""

    def __init__(self, visibility: str = "conversation", base_dir: str | None = None) -> None:
        if visibility not in VISIBILITIES:
            raise ValueError(f"FilesystemTools(visibility={visibility!r}): use one of {list(VISIBILITIES)}")
        self.visibility = visibility
        self.base_dir = Path(base_dir or os.environ.get("AUTONOMY_FILES_DIR", DEFAULT_BASE_DIR))

    def root_for(self, scope: str | None, conversation: str | None, agent_name: str | None) -> Path:
        parts: list[str] = []
        if self.visibility in ("agent", "scope", "conversation"):
            parts.append(_segment(agent_name))
        if self.visibility in ("scope", "conversation"):
            parts.append(_segment(scope))
        if self.visibility == "conversation":
            parts.append(_segment(conversation))
        return self.base_dir.joinpath(*parts)

    def create_tools(self, scope: str, conversation: str, agent_name: str | None = None) -> list[Tool]:
        root = self.root_for(scope, conversation, agent_name)
        root.mkdir(parents=True, exist_ok=True)
        return Filesystem(root).tools()
