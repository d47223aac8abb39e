"""Reading the command a Dockerfile runs, so that a node image can run as a local process.

Only what `zone dev` needs: the last ENTRYPOINT and CMD, in exec (JSON) or shell form, combined as
Docker combines them. Whether the result is a Python command decides local process versus Docker.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageCommand:
    entrypoint: list[str]
    cmd: list[str]
    entrypoint_is_shell: bool = False

    def argv(self, args: list[str] | None = None) -> list[str]:
        """The container's argv; `args` (the pod spec's `args`) replace CMD, as in Kubernetes."""
        tail = self.cmd if args is None else args
        if self.entrypoint:
            return [*self.entrypoint, *([] if self.entrypoint_is_shell else tail)]
        return list(tail)


def read_command(dockerfile: Path) -> ImageCommand:
    entrypoint: list[str] = []
    entry_shell = False
    cmd: list[str] = []
    for instruction, value in _instructions(dockerfile.read_text()):
        if instruction == "FROM":  # each stage starts afresh; the last stage is the image
            entrypoint, cmd, entry_shell = [], [], False
        elif instruction == "ENTRYPOINT":
            entrypoint, entry_shell = _parse(value)
            cmd = []  # Docker resets CMD inherited with the ENTRYPOINT of the same stage
        elif instruction == "CMD":
            cmd, _ = _parse(value)
    return ImageCommand(entrypoint=entrypoint, cmd=cmd, entrypoint_is_shell=entry_shell)


def python_script_argv(argv: list[str]) -> list[str] | None:
    """The arguments after the interpreter when `argv` runs Python (`python main.py`), else None."""
    if not argv:
        return None
    program = Path(argv[0]).name
    if program == "python" or program.startswith("python3"):
        return argv[1:]
    return None


def _parse(value: str) -> tuple[list[str], bool]:
    """(argv, is_shell_form). Shell form becomes `/bin/sh -c "<text>"` as Docker does."""
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return list(parsed), False
    words = shlex.split(text)
    # `python main.py` in shell form: keep it simple to run locally rather than wrapping in sh -c.
    if python_script_argv(words) is not None and not any(c in text for c in "|&;<>$`"):
        return words, False
    return ["/bin/sh", "-c", text], True


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        parts = line.split(None, 1)
        if parts:
            out.append((parts[0].upper(), parts[1] if len(parts) > 1 else ""))
    return out
