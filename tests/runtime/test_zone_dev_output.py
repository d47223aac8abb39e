"""`autonomy zone dev` with a container that writes lines over 64 KiB and ignores SIGTERM: Ctrl-C ends it."""

from __future__ import annotations

import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.zone_dev_support import DevRun

CHATTY_MAIN = """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("y" * 300_000, flush=True)
    for i in range(30):
        print(str(i % 10) * 100_000, flush=True)
    print("all written", flush=True)
    while True:
        time.sleep(1)
"""


@pytest.fixture
def chatty_zone(tmp_path: Path) -> Path:
    (tmp_path / "images" / "main").mkdir(parents=True)
    (tmp_path / "images" / "main" / "main.py").write_text(textwrap.dedent(CHATTY_MAIN))
    config = tmp_path / "autonomy.yaml"
    config.write_text("name: chatty\npods:\n  - name: main-pod\n    containers: [{name: main, image: main}]\n")
    return config


@pytest.fixture
def run(chatty_zone: Path) -> Iterator[DevRun]:
    started = DevRun(chatty_zone)
    yield started
    started.cleanup()


def test_long_lines_are_printed_in_pieces_and_ctrl_c_ends_a_child_that_ignores_sigterm(run: DevRun) -> None:
    output = run.wait_output("all written")
    assert "[... continues: line longer than 65536 bytes, split]" in output
    assert "[... continued] " in output
    started = time.monotonic()
    assert run.stop(signal.SIGINT, timeout=20) == 0  # grace 5 s, then SIGKILL
    assert time.monotonic() - started < 12
    run.wait_none_left()
    assert "zone chatty: stopped" in run.output()
