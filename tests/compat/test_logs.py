"""Upstream's logging helpers: per-module levels from AUTONOMY_LOG_LEVEL, the one-line helpers on the "node"
logger, `get_logger` for an app's own parts, the InfoContext/DebugContext mixins, levels changed at runtime."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from autonomy import get_logger, set_log_level, set_log_levels
from autonomy.logs import get_log_levels
from tests.compat.conftest import APPS


@pytest.fixture
def levels() -> Iterator[None]:
    yield
    set_log_levels("INFO")  # back to the default for the rest of the session


def test_an_app_logs_as_autonomy_log_level_says(app_env: dict[str, str]) -> None:
    env = {**app_env, "AUTONOMY_WAIT_UNTIL_INTERRUPTED": "0",
           "AUTONOMY_LOG_LEVEL": "WARNING,main=DEBUG,catalogue=INFO,ockam_api=debug",
           "DEFAULT_LOG_FORMAT": "%(levelname)s %(name)s %(filename)s:%(lineno)d %(message)s"}
    done = subprocess.run([sys.executable, str(APPS / "logging_app.py")], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["RAISED", "DONE"]
    lines = [line for line in done.stderr.splitlines() if "logging_app.py" in line]
    assert lines == [
        # the helpers log on the node logger, at WARNING here, and name the app's line (as upstream)
        "WARNING autonomy.node logging_app.py:38 helper warning",
        "ERROR autonomy.node logging_app.py:39 helper error",
        # main=DEBUG reaches the app's own logger
        "DEBUG autonomy.main logging_app.py:40 main debug",
        "INFO autonomy.main logging_app.py:41 main info",
        # catalogue=INFO: the InfoContext lines, not the DebugContext ones; they name the `with` line
        "INFO autonomy.catalogue logging_app.py:25 Loading the catalogue",
        "INFO autonomy.catalogue logging_app.py:25 Loaded the catalogue",
        # a failing block is logged and raised (the app printed RAISED), never reported as done
        "INFO autonomy.catalogue logging_app.py:31 Reloading the catalogue",
        "INFO autonomy.catalogue logging_app.py:31 the catalogue is gone",
        # set_log_level("main", "ERROR") hid a warning; set_log_levels("DEBUG") replaced every level
        "DEBUG autonomy.main logging_app.py:51 main debug after the new spec",
        "DEBUG autonomy.node logging_app.py:52 helper debug after the new spec",
    ]


def test_a_spec_replaces_the_previous_one(levels: None) -> None:
    set_log_levels("WARNING,agent=DEBUG,model=error")
    assert get_log_levels() == {"default": "WARNING", "agent": "DEBUG", "model": "ERROR"}
    assert get_logger("agent").getEffectiveLevel() == logging.DEBUG
    set_log_levels("info,model=WARN")  # WARN is accepted, as upstream
    assert get_log_levels() == {"default": "INFO", "model": "WARNING"}
    assert get_logger("agent").getEffectiveLevel() == logging.INFO


def test_set_log_level_changes_one_module_and_keeps_the_rest(levels: None) -> None:
    set_log_levels("INFO,agent=DEBUG")
    set_log_level("http", "error")
    assert get_log_levels() == {"default": "INFO", "agent": "DEBUG", "http": "ERROR"}
    set_log_level("default", "WARNING")
    assert get_log_levels()["default"] == "WARNING"


def test_a_bad_spec_names_the_level_and_changes_nothing(levels: None) -> None:
    set_log_levels("INFO,agent=DEBUG")
    with pytest.raises(ValueError, match="unknown log level 'LOUD': use one of critical, error"):
        set_log_levels("ERROR,agent=LOUD")
    assert get_log_levels() == {"default": "INFO", "agent": "DEBUG"}


def test_rust_module_keys_are_accepted_and_unused(levels: None) -> None:
    set_log_levels("INFO,ockam=debug,ockam_transport_tcp=trace,agent=DEBUG")
    assert get_log_levels() == {"default": "INFO", "agent": "DEBUG"}


def test_get_logger_names_are_under_the_framework_logger() -> None:
    assert get_logger("agent").name == "autonomy.agent"
    assert get_logger("autonomy.agent") is get_logger("agent")
    assert get_logger().name == "autonomy.node"


def test_upstreams_formatter_layout() -> None:
    from autonomy.logs import Formatter

    record = logging.LogRecord("autonomy.node.local", logging.WARNING, __file__, 1, "all %s", ("hands",), None)
    record.created = 0.0
    assert Formatter().format(record) == "1970-01-01T00:00:00.000000Z  WARN autonomy::node::local all hands"
    assert (record.levelname, record.name) == ("WARNING", "autonomy.node.local")  # other handlers see it as it was
