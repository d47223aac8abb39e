"""The built-in time tools every agent has: models do not know what time it is."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autonomy.tools.function import Tool


def get_current_time_utc() -> str:
    """Get the current date and time in UTC, in ISO 8601 format."""
    return datetime.now(UTC).isoformat()


def get_current_time(timezone: str = "UTC") -> str:
    """Get the current date and time in a timezone, in ISO 8601 format.

    Args:
        timezone: an IANA timezone name, e.g. "Europe/Paris" or "America/New_York".
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown timezone {timezone!r}: use an IANA name such as 'Europe/Paris'") from error
    return datetime.now(zone).isoformat()


def time_tools() -> list[Tool]:
    return [Tool(get_current_time_utc), Tool(get_current_time)]
