"""Errors of model calls, so agents can tell a configuration mistake from a provider outage."""

from __future__ import annotations

from autonomy.errors import AutonomyError


class ModelError(AutonomyError):
    """A model call failed."""


class ModelConfigurationError(ModelError):
    """The model cannot be called as configured; the message says what to set."""


class ModelRequestError(ModelError):
    """The provider refused or failed the request (after retries, when retryable)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ModelThrottled(ModelError):
    """The client-side throttle queue is full or the wait in it was too long."""
