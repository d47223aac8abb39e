"""The naming and sizing rules of a zone, stated once.

Each rule carries the pattern the Python validators check, the CEL expression the CRD enforces at
admission, and the sentence both show when a value breaks it, so the CLI and `kubectl apply` refuse
the same things with the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CLONES_MAX",
    "CLONES_MIN",
    "CONTAINER_NAME",
    "ENV_NAME",
    "MAIN_POD",
    "MAX_ARGS",
    "MAX_CONTAINERS",
    "MAX_ENV",
    "MAX_PODS",
    "POD_NAME",
    "RESERVED_ENV",
    "SECRET_KEY",
    "SECRET_PREFIX",
    "ZONE_NAME",
    "NameRule",
]


@dataclass(frozen=True)
class NameRule:
    """A string rule: `pattern` (full match), `max_length`, and `allowed`, the sentence users read."""

    pattern: str
    max_length: int
    allowed: str

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None

    def cel(self) -> str:
        """The CEL rule for a string field that must follow this rule."""
        return f"self.matches('^{self.pattern}$')"


ZONE_NAME = NameRule(r"[a-z0-9]{1,10}", 10, "1-10 characters of a-z and 0-9")
POD_NAME = NameRule(
    r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?",
    10,
    "1-10 characters of a-z, 0-9 and '-', not starting or ending with '-'",
)
CONTAINER_NAME = POD_NAME
ENV_NAME = NameRule(
    r"[A-Za-z_][A-Za-z0-9_]{0,127}", 128, "1-128 letters, digits and '_', not starting with a digit"
)
#: Keys of the zone's Secret, as Kubernetes allows them in a Secret's data.
SECRET_KEY = NameRule(r"[-._a-zA-Z0-9]{1,253}", 253, "1-253 characters of letters, digits, '-', '_' and '.'")

#: A value of this form in `env` reads key KEY of the zone's Secret.
SECRET_PREFIX = "secrets."
#: With several pods, one must have this name; it is the zone's entry point.
MAIN_POD = "main-pod"
CLONES_MIN = 1
CLONES_MAX = 100
MAX_PODS = 10
MAX_CONTAINERS = 10
MAX_ENV = 100
MAX_ARGS = 100
MAX_VALUE_LENGTH = 32768
MAX_IMAGE_LENGTH = 512

#: Environment the operator (or `zone dev`) sets for every node; a zone may not set these itself.
RESERVED_ENV = frozenset({"CLUSTER", "ZONE", "POD", "NODE", "POD_IP", "NAMESPACE"})
