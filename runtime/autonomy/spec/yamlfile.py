"""Reading a user's YAML file with bounds, so that a hostile autonomy.yaml or secrets.yaml costs little.

A small YAML file can still expand without end (anchors and aliases: the "billion laughs"), nest
deeper than Python's recursion allows, hold bytes that are not UTF-8, or not be a file at all (a
directory, a FIFO that blocks a reader for ever). `read_yaml` refuses each of these with one sentence
naming the place and the fix, before anything is built from the content:

- at most MAX_FILE_BYTES are read (a Kubernetes Secret holds at most 1 MiB; a zone file a few KiB);
- only regular files are opened for reading, without blocking;
- at most MAX_DEPTH levels of nesting (PyYAML builds recursively: 5,000 levels are a RecursionError);
- at most MAX_NODES values and MAX_SCALAR_CHARS characters of scalars once aliases are expanded.

Both are checked on the parser's events before anything is built, so a bomb stops at the alias that
goes over the limit, in time linear in the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_NODES", "MAX_SCALAR_CHARS", "YamlFileError", "read_yaml"]

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 50_000  # the largest valid zone (10 pods of 10 containers, 100 env and args each) has ~30,000
MAX_SCALAR_CHARS = 8 * 1024 * 1024


class YamlFileError(ValueError):
    """A YAML file that cannot be used; `problem` says where in it, what is wrong and the fix."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def read_yaml(path: Path) -> Any:
    """The content of the YAML (or JSON) file at `path`, within the limits above."""
    text = _decode(_read(path), path)
    try:
        _check_shape(text)  # before building anything: parsing events costs little, and only once
        return yaml.load(text, Loader=_LOADER)  # a safe loader: SafeLoader or CSafeLoader
    except yaml.reader.ReaderError as error:  # a character YAML forbids; it has a position, not a mark
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        problem = f"the character U+{error.character:04X} is not allowed in YAML (remove it)"
        raise YamlFileError(path, f"line {line}, column {column}: {problem}") from None
    except yaml.YAMLError as error:
        raise YamlFileError(path, _yaml_problem(error)) from None


def _read(path: Path) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; nothing but a regular file is read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        raise YamlFileError(path, f"cannot be read ({error.strerror or error})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise YamlFileError(path, "is a directory, not a file (remove or rename it, or pass the file's path)")
        if not stat.S_ISREG(mode):
            raise YamlFileError(path, "is not a regular file (a device, FIFO or socket; pass a file)")
        data = _read_at_most(fd, MAX_FILE_BYTES + 1)
    except OSError as error:
        raise YamlFileError(path, f"cannot be read ({error.strerror or error})") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise YamlFileError(path, f"is larger than {MAX_FILE_BYTES // 1024} KiB (a zone's files are a few KiB)")
    return data


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := os.read(fd, min(limit - size, 1 << 16))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        start = error.start
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise YamlFileError(
            path, f"line {line}, column {column}: byte 0x{data[start]:02x} is not UTF-8 (save the file as UTF-8)"
        ) from None


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the file"
    problem = getattr(error, "problem", None) or str(error)
    if isinstance(error, _LimitError):
        return f"{where}: {problem}"
    return f"{where}: not valid YAML: {problem} (fix the syntax)"


class _LimitError(yaml.YAMLError):
    def __init__(self, mark: Any, problem: str) -> None:  # yaml.Mark, or libyaml's
        super().__init__(problem)
        self.problem_mark = mark
        self.problem = problem


#: libyaml's parser when PyYAML has it (it ships in PyYAML's wheels): fast, and not recursive.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_shape(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and an expanded size over the limits, from parse events.

    Each collection's expanded size (values, scalar characters) is known at its end event and kept
    under its anchor; an alias counts its anchor's whole size again. The running count is thus the
    size of the document with every alias written out, and it stops at the event that goes over.
    """
    open_sizes: list[list[int]] = []  # per open collection: [values, chars], expanded
    open_anchors: list[str | None] = []
    anchors: dict[str, tuple[int, int] | None] = {}  # None: the anchor's collection is still open
    total = [0, 0]

    def add(values: int, chars: int, mark: Any) -> None:
        total[0] += values
        total[1] += chars
        if open_sizes:
            open_sizes[-1][0] += values
            open_sizes[-1][1] += chars
        if total[0] > MAX_NODES or total[1] > MAX_SCALAR_CHARS:
            raise _LimitError(
                mark,
                f"the file expands to more than {MAX_NODES:,} values or {MAX_SCALAR_CHARS // (1024 * 1024)} MiB "
                "of text once its aliases (*name) are written out (a YAML alias bomb?); write the values out "
                "or use fewer aliases",
            )

    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.DocumentStartEvent):
            anchors.clear()
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(open_sizes) >= MAX_DEPTH:
                raise _LimitError(
                    event.start_mark,
                    f"nested more than {MAX_DEPTH} levels deep (a zone's file needs a handful; flatten it)",
                )
            if event.anchor is not None:
                anchors[event.anchor] = None
            open_sizes.append([0, 0])
            open_anchors.append(event.anchor)
            add(1, 0, event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            values, chars = open_sizes.pop()
            anchor = open_anchors.pop()
            if anchor is not None:
                anchors[anchor] = (values, chars)  # itself included
            if open_sizes:  # the collection's contents, counted in `total` already, belong to its parent too
                open_sizes[-1][0] += values
                open_sizes[-1][1] += chars
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                anchors[event.anchor] = (1, len(event.value))
            add(1, len(event.value), event.start_mark)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                continue  # the loader reports the undefined alias, with its place
            size = anchors[event.anchor]
            if size is None:
                raise _LimitError(
                    event.start_mark, "an alias inside its own anchor makes an endless structure (remove it)"
                )
            add(*size, event.start_mark)
