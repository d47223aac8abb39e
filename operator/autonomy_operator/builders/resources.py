"""Splitting a pod's size across its containers.

A size (`regular`, `big`) is what one clone of a pod gets in all; each container receives an equal
share as both request and limit, so the pod's total equals the size table.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["share"]

_SUFFIX = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}


def parse_quantity(text: str) -> Decimal:
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", text)
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    return Decimal(match.group(1)) * _SUFFIX[match.group(2) or ""]


def share(cpu: str, memory: str, parts: int) -> dict[str, str]:
    """One container's equal share of `cpu` and `memory` (rounded down to 1m and 1Ki)."""
    if parts <= 1:
        return {"cpu": cpu, "memory": memory}
    millicores = max(int(parse_quantity(cpu) * 1000) // parts, 1)
    kibibytes = max(int(parse_quantity(memory)) // 1024 // parts, 1)
    return {"cpu": _cpu(millicores), "memory": _memory(kibibytes)}


def _cpu(millicores: int) -> str:
    """In the canonical form the API server stores, so applying twice changes nothing."""
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def _memory(kibibytes: int) -> str:
    for suffix, size in (("Gi", 2**20), ("Mi", 2**10)):
        if kibibytes % size == 0:
            return f"{kibibytes // size}{suffix}"
    return f"{kibibytes}Ki"
