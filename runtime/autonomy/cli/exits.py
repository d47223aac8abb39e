"""Exit codes that scripts can rely on.

Every command ends with one of these; `CliError` carries one up to `main`, which prints the message
(and any details, one per line) and exits with the code. Typer's own usage errors exit with 2.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILURE = 1  # something went wrong that has no more specific code
    USAGE = 2  # bad flags or arguments (typer/click use 2 as well)
    CONFIG = 3  # autonomy.yaml, secrets.yaml or the user config is missing or invalid
    NOT_FOUND = 4  # the zone, cluster, context or resource asked for does not exist
    CLUSTER = 5  # the cluster cannot be reached, or the CRDs / operator are missing
    TIMEOUT = 6  # --wait ran out of time, or a zone failed to become Ready
    DOCKER = 7  # Docker is missing, or an image build or push failed
    INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """A failure to report to the user: a one-line message, optional detail lines, an exit code."""

    def __init__(self, message: str, code: Exit = Exit.FAILURE, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or []
