"""Logging with per-module levels, as upstream: `AUTONOMY_LOG_LEVEL="INFO,agent=DEBUG,transport=WARNING"`.

Every framework logger is `autonomy.<module>`; a module key in the spec (`agent`, `node`, `http`, ...)
sets that logger's level. Levels can also be changed at runtime (`POST /logs/levels`).
"""

from __future__ import annotations

import logging
import os
import sys

ROOT = "autonomy"
AVAILABLE_LEVELS = ["critical", "error", "warning", "info", "debug"]
_configured = False


def get_logger(module: str = "node") -> logging.Logger:
    return logging.getLogger(f"{ROOT}.{module}" if module and module != ROOT else ROOT)


def _level(name: str) -> int:
    value = logging.getLevelName(name.strip().upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {name!r}: use one of {', '.join(AVAILABLE_LEVELS)}")
    return value


def set_log_level(module: str | None, level: str) -> None:
    """Set the level of one module (`None` or "" for the framework as a whole)."""
    get_logger(module or ROOT).setLevel(_level(level))


def set_log_levels(spec: str) -> None:
    """Apply a spec like "INFO,agent=DEBUG": a bare level is the default, `module=level` overrides."""
    for part in filter(None, (p.strip() for p in spec.split(","))):
        module, _, level = part.rpartition("=")
        set_log_level(module or None, level)


def current_levels() -> dict[str, str]:
    levels = {}
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and (name == ROOT or name.startswith(ROOT + ".")):
            if logger.level != logging.NOTSET:
                key = name[len(ROOT) + 1:] if name != ROOT else ""
                levels[key or ROOT] = logging.getLevelName(logger.level).lower()
    return levels


def configure_from_environment() -> None:
    """Once per process: a stderr handler and the levels of AUTONOMY_LOG_LEVEL (AUTONOMY_LOGGING=0: off)."""
    global _configured
    if _configured:
        return
    _configured = True
    root = get_logger(ROOT)
    if os.environ.get("AUTONOMY_LOGGING", "1") == "0":
        root.addHandler(logging.NullHandler())
        root.propagate = False
        return
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        fmt = os.environ.get("DEFAULT_LOG_FORMAT", "%(asctime)s %(levelname)s %(name)s: %(message)s")
        handler.setFormatter(logging.Formatter(fmt))
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(logging.INFO)
    spec = os.environ.get("AUTONOMY_LOG_LEVEL")
    if spec:
        try:
            set_log_levels(spec)
        except ValueError as error:
            root.warning("ignoring AUTONOMY_LOG_LEVEL: %s", error)
