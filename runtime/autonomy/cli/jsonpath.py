"""The small part of kubectl's JSONPath that CRD printer columns use, so that `zone list` prints the
columns `kubectl get zones` prints, read from the CRD itself.

Supported: `.a.b`, `[n]`, `[*]`, and filters `[?(@.key=="value")]`. Anything else yields no value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_TOKEN = re.compile(
    r"\.([A-Za-z0-9_\-]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_\-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]"
)


def evaluate(path: str, obj: Any) -> list[Any]:
    values = [obj]
    position = 0
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            return []
        position = match.end()
        field, index, filter_key, filter_value = match.groups()
        nxt: list[Any] = []
        for value in values:
            if field is not None and isinstance(value, dict) and field in value:
                nxt.append(value[field])
            elif index is not None and isinstance(value, list):
                if index == "*":
                    nxt.extend(value)
                elif int(index) < len(value):
                    nxt.append(value[int(index)])
            elif filter_key is not None and isinstance(value, list):
                nxt.extend(v for v in value if isinstance(v, dict) and str(v.get(filter_key)) == filter_value)
        values = nxt
    return values


def render(path: str, obj: Any, column_type: str = "string", now: datetime | None = None) -> str:
    values = evaluate(path, obj)
    if not values:
        return ""
    if column_type == "date":
        return age(str(values[0]), now)
    return ",".join(str(v).lower() if isinstance(v, bool) else str(v) for v in values)


def age(timestamp: str, now: datetime | None = None) -> str:
    """kubectl's short age: 45s, 3m, 5h, 2d."""
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"
