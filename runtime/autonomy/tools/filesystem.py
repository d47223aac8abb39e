"""`FilesystemTools`: a private directory per agent, scope or conversation, as tools.

The "deep work" idea: an agent keeps notes, plans and memory in files. The root depends on visibility:
`all` -> base/, `agent` -> base/agent/, `scope` -> base/agent/scope/, `conversation` ->
base/agent/scope/conversation/ (missing parts become `default`; ids map to folder names one to one, see
`autonomy.tools.folders`). Every path a model gives, and every file a search or a listing walks, is
resolved, symlinks included, and refused or skipped if it leaves the root. Writes refuse a file with
other hard links (it may be a file outside the root). Searches read files up to `MAX_READ_BYTES` and run
the model's pattern with RE2, in time linear in the text, so no pattern can stall the node.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import re2

from autonomy.tools.folders import private_base, segment
from autonomy.tools.function import Tool

Visibility = Literal["all", "agent", "scope", "conversation"]
VISIBILITIES: tuple[str, ...] = ("all", "agent", "scope", "conversation")
MAX_READ_BYTES = 2_000_000
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class Filesystem:
    """The tools bound to one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _inside(self, candidate: Path) -> bool:
        return candidate == self.root or self.root in candidate.parents

    def _path(self, path: str) -> Path:
        candidate = (self.root / str(path).lstrip("/")).resolve()
        if not self._inside(candidate):
            raise PermissionError(f"path {path!r} is outside this agent's filesystem; use paths under '/'")
        return candidate

    def _files(self, start: Path) -> Iterator[Path]:
        """The files under `start`, in order, that are inside the root once resolved (no symlink out)."""
        if start.is_file():
            yield start
            return
        for folder, folders, names in os.walk(start):  # does not descend into symlinked folders
            folders.sort()
            for name in sorted(names):
                file = Path(folder) / name
                resolved = file.resolve()
                if self._inside(resolved) and resolved.is_file():
                    yield file

    def _open_for_writing(self, file: Path) -> int:
        """A descriptor to write `file` from its start; refused if the file has other hard links."""
        descriptor = os.open(file, _WRITE_FLAGS, 0o600)
        if os.fstat(descriptor).st_nlink > 1:
            os.close(descriptor)
            raise PermissionError(f"{self._show(file)} has other hard links (it may be a file outside this "
                                  "agent's filesystem): it is not written; write a new file instead")
        os.ftruncate(descriptor, 0)
        return descriptor

    def _write(self, file: Path, content: str) -> None:
        with os.fdopen(self._open_for_writing(file), "w", encoding="utf-8") as out:
            out.write(content)

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
        self._write(file, content)
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
        self._write(file, text.replace(old_string, new_string, -1 if replace_all else 1))
        return f"replaced {count if replace_all else 1} occurrence(s) in {self._show(file)}"

    def find_files(self, pattern: str) -> str:
        """Find files whose path matches a glob pattern, e.g. '*.md' or 'notes/**/*.txt'."""
        matches = [
            self._show(p) for p in self._files(self.root) if fnmatch.fnmatch(p.name, pattern) or p.match(pattern)
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
        """Search files for a regular expression (RE2 syntax: no backreferences or lookaround); returns
        matching lines with their file names."""
        options = re2.Options()
        options.case_sensitive = case_sensitive
        options.log_errors = False
        try:
            regex = re2.compile(pattern, options)
        except re2.error as error:
            raise ValueError(f"pattern {pattern[:100]!r} is not a regular expression RE2 runs ({error}): "
                             "backreferences and lookaround are not supported") from None
        start = self._path(path)
        results: list[str] = []
        skipped = 0
        for file in self._files(start):
            if file.stat().st_size > MAX_READ_BYTES:
                skipped += 1
                continue
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
        note = f"\n({skipped} file(s) over {MAX_READ_BYTES} bytes not searched)" if skipped else ""
        return ("\n".join(results) or "(no matches)") + note

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
        origin, target = self._path(source), self._path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        with origin.open("rb") as data, os.fdopen(self._open_for_writing(target), "wb") as out:
            shutil.copyfileobj(data, out)
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
        configured = base_dir or os.environ.get("AUTONOMY_FILES_DIR")
        self._base_dir = Path(configured) if configured else None

    @property
    def base_dir(self) -> Path:
        """`base_dir`, else `AUTONOMY_FILES_DIR`, else a private folder of this user (`folders.private_base`)."""
        if self._base_dir is None:
            self._base_dir = private_base()
        return self._base_dir

    def root_for(self, scope: str | None, conversation: str | None, agent_name: str | None) -> Path:
        parts: list[str] = []
        if self.visibility in ("agent", "scope", "conversation"):
            parts.append(segment(agent_name))
        if self.visibility in ("scope", "conversation"):
            parts.append(segment(scope))
        if self.visibility == "conversation":
            parts.append(segment(conversation))
        return self.base_dir.joinpath(*parts)

    def create_tools(self, scope: str, conversation: str, agent_name: str | None = None) -> list[Tool]:
        root = self.root_for(scope, conversation, agent_name)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        return Filesystem(root).tools()
