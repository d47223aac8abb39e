"""Parsing `--since 5m`-style durations (s, m, h, d, and combinations like 1h30m)."""

from __future__ import annotations

import re

from autonomy.cli.exits import CliError, Exit

_PART = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, flag: str = "--since") -> int:
    compact = text.strip().lower()
    if compact.isdigit():
        return int(compact)
    parts = _PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise CliError(f"{flag} {text!r}: expected a duration like 30s, 5m, 2h or 1h30m", Exit.USAGE)
    return sum(int(n) * _UNITS[u] for n, u in parts)
