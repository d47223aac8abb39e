"""Logging with per-module levels, as upstream: `AUTONOMY_LOG_LEVEL="INFO,agent=DEBUG,transport=WARNING"`.

Every framework logger is `autonomy.<module>`; a module key in the spec (`agent`, `node`, `http`, ...)
sets that logger's level, and an app's own `get_logger("main")` is `autonomy.main`, so the same spec
(`main=DEBUG`) reaches it. Levels can also be changed at runtime (`POST /logs/levels`).

Upstream's helpers for apps live here too: `info`/`debug`/`warning`/`error` (the "node" logger),
`get_logger`, `set_log_level`, `set_log_levels`, `get_log_levels`, and the `InfoContext`/`DebugContext`
mixins. Output starts once the process is configured (`Node.start` does it, once per process).
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "DebugContext",
    "Formatter",
    "InfoContext",
    "Logger",
    "apply_log_levels",
    "debug",
    "error",
    "get_log_levels",
    "get_logger",
    "info",
    "set_log_level",
    "set_log_levels",
    "warning",
]

#: Upstream's `autonomy.logs` re-exports the standard logger class under this name.
Logger = logging.Logger

ROOT = "autonomy"
AVAILABLE_LEVELS = ["critical", "error", "warning", "info", "debug"]
_configured = False
#: The levels set through `set_log_level(s)`, so that a new spec replaces the previous one (as upstream).
_set_by_spec: set[str] = set()


def _logger_name(module: str | None) -> str:
    if not module or module in (ROOT, "default"):
        return ROOT
    return module if module.startswith(ROOT + ".") else f"{ROOT}.{module}"


def get_logger(module: str = "node") -> logging.Logger:
    """The logger of a framework module or of an app's part: `get_logger("main")` is `autonomy.main`."""
    return logging.getLogger(_logger_name(module))


def _level(name: str) -> int:
    value = logging.getLevelName(name.strip().upper())  # WARN is accepted, as upstream
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {name!r}: use one of {', '.join(AVAILABLE_LEVELS)}")
    return value


def set_log_level(module: str | None, level: str) -> None:
    """Set the level of one module (`None`, "" or "default" for the framework as a whole)."""
    name = _logger_name(module)
    logging.getLogger(name).setLevel(_level(level))
    _set_by_spec.add(name)


def _is_rust_module(key: str) -> bool:
    # Upstream hands `ockam*` keys to its Rust logger; this runtime has none, so they are accepted and unused.
    return key == "ockam" or key.startswith("ockam_")


def set_log_levels(spec: str | None) -> None:
    """Apply a spec like "INFO,agent=DEBUG": a bare level is the default, `module=level` overrides.

    As upstream, the spec replaces the previous one: a module it does not name follows the default again.
    The whole spec is checked before anything changes, so a typo leaves the levels as they were.
    """
    default = "INFO"
    modules: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        module, _, level = part.rpartition("=")
        module = module.strip()
        if _is_rust_module(module):  # Rust's levels (trace, ...) are not Python's: not checked either
            continue
        _level(level)
        if module and module not in (ROOT, "default"):
            modules[module] = level
        else:
            default = level
    for name in _set_by_spec:
        if name != ROOT:
            logging.getLogger(name).setLevel(logging.NOTSET)
    _set_by_spec.clear()
    set_log_level(None, default)
    for module, level in modules.items():
        set_log_level(module, level)


def current_levels() -> dict[str, str]:
    levels = {}
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and (name == ROOT or name.startswith(ROOT + ".")):
            if logger.level != logging.NOTSET:
                key = name[len(ROOT) + 1:] if name != ROOT else ""
                levels[key or ROOT] = logging.getLevelName(logger.level).lower()
    return levels


def get_log_levels() -> dict[str, str]:
    """Upstream's view of the levels: {"default": "INFO", "agent": "DEBUG", ...} (upper case)."""
    return {("default" if k == ROOT else k): v.upper() for k, v in current_levels().items()}


class Formatter(logging.Formatter):
    """Upstream's record layout: UTC ISO time, the level as five letters (WARN), the logger's name padded,
    `::` for dots (`autonomy::agent`). Without colours: this runtime's logs go to files and `zone logs`."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, **kwargs: Any) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)5s %(name)-14s %(message)s",
                         datefmt or "%Y-%m-%dT%H:%M:%S.%fZ", **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # logging's name
        moment = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        return moment.strftime(datefmt or "%Y-%m-%dT%H:%M:%S.%fZ")

    def format(self, record: logging.LogRecord) -> str:
        # A copy, so that other handlers of the record still see its own level name and logger name.
        shown = logging.makeLogRecord(record.__dict__)
        shown.levelname = "WARN" if record.levelname == "WARNING" else record.levelname
        shown.name = record.name.replace(".", "::")
        return super().format(shown)


def apply_log_levels() -> None:
    """Upstream re-applies its level table with this; here levels apply as they are set, so it only makes
    sure the process logs (the stderr handler and AUTONOMY_LOG_LEVEL, once)."""
    configure_from_environment()


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
        if os.environ.get("OCKAM_LOG_SHOW_SOURCE"):
            fmt += " [%(pathname)s:%(lineno)d]"
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


# -- upstream's one-line helpers: they log on the "node" logger, reporting the caller's line -------------

def info(msg: object, *args: Any, **kwargs: Any) -> None:
    get_logger("node").info(msg, *args, stacklevel=2, **kwargs)


def debug(msg: object, *args: Any, **kwargs: Any) -> None:
    get_logger("node").debug(msg, *args, stacklevel=2, **kwargs)


def warning(msg: object, *args: Any, **kwargs: Any) -> None:
    get_logger("node").warning(msg, *args, stacklevel=2, **kwargs)


def error(msg: object, *args: Any, **kwargs: Any) -> None:
    get_logger("node").error(msg, *args, stacklevel=2, **kwargs)


# -- mixins for classes with a `logger`: `with self.info("Loading", "Loaded"): ...` ---------------------

class InfoContext:
    """Logs a line before and after a block at INFO. `self.logger` must be a `logging.Logger`.

    If the block raises, the error is logged at INFO and raised again: upstream swallows it there, which
    turns a failure into silent success, so that part is not copied."""

    logger: logging.Logger

    @contextmanager
    def info(self, before_msg: str, after_msg: str) -> Iterator[None]:
        with _logged(self.logger, logging.INFO, before_msg, after_msg):
            yield


class DebugContext:
    """As `InfoContext`, at DEBUG."""

    logger: logging.Logger

    @contextmanager
    def debug(self, before_msg: str, after_msg: str) -> Iterator[None]:
        with _logged(self.logger, logging.DEBUG, before_msg, after_msg):
            yield


@contextmanager
def _logged(logger: logging.Logger, level: int, before_msg: str, after_msg: str) -> Iterator[None]:
    # stacklevel 5: past this generator, its context manager, the mixin's generator and its context manager,
    # so a record names the `with` line of the app.
    logger.log(level, before_msg, stacklevel=5)
    try:
        yield
    except Exception as failure:
        logger.log(level, "%s", failure, stacklevel=5)
        raise
    logger.log(level, after_msg, stacklevel=5)
