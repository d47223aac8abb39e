"""Printing for people and for scripts.

Data goes to stdout as `-o table` (a rich table on a terminal, plain aligned columns when piped),
`-o json` or `-o yaml`; progress and messages go to stderr so that piping data stays clean.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


# stderr for messages and progress; stdout only for the data a command was asked for.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False)


def is_terminal() -> bool:
    return out_console.is_terminal


def print_data(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    fmt: OutputFormat,
    *,
    document: Any = None,
    title: str | None = None,
) -> None:
    """Print `rows` as a table of `columns` ((key, header) pairs), or `document` (default: rows) as data."""
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(rows if document is None else document, indent=2, default=str) + "\n")
        return
    if fmt is OutputFormat.yaml:
        data = rows if document is None else document
        sys.stdout.write(yaml.safe_dump(_plain(data), sort_keys=False))
        return
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    headers = [header for _, header in columns]
    if is_terminal():
        table = Table(title=title, header_style="bold")
        for header in headers:
            table.add_column(header)
        for line in cells:
            table.add_row(*line)
        out_console.print(table)
        return
    sys.stdout.write(plain_table(headers, cells))


def print_fields(fields: Sequence[tuple[str, Any]]) -> None:
    """Print `label: value` lines (for one object, e.g. `cluster show` on a terminal)."""
    width = max((len(label) for label, _ in fields), default=0)
    for label, value in fields:
        sys.stdout.write(f"{label + ':':<{width + 1}} {_cell(value)}\n")


def plain_table(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """Columns padded with spaces, headers upper-cased, like `kubectl get` prints when piped."""
    rows = [[h.upper() for h in headers], *[list(r) for r in cells]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    lines = ["   ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _plain(data: Any) -> Any:
    """Round-trip through JSON so that YAML never gets Python-specific tags."""
    return json.loads(json.dumps(data, default=str))
