"""Names and addresses: what identifies a node and an actor, and how random ones are made.

An actor lives at `(node name, address)`. Addresses that apps choose follow the upstream rule
(`[a-zA-Z0-9_-]+`); the runtime's own actors use a `_` prefix so they never collide with an app's.
"""

from __future__ import annotations

import os
import re
from typing import NewType

NodeName = NewType("NodeName", str)
Address = NewType("Address", str)

_ADDRESS = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")


def random_hex(nbytes: int = 12) -> str:
    """A random lowercase hex string (24 characters by default, like upstream's node and agent names)."""
    return os.urandom(nbytes).hex()


def check_address(address: str) -> Address:
    """Return `address` if an app may start an actor there; raise ValueError naming the rule otherwise."""
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise ValueError(
            f"invalid worker name {address!r}: use 1-200 characters of letters, digits, '_' and '-'"
        )
    return Address(address)
