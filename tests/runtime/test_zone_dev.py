"""`autonomy zone dev` of the fan-out example: real node processes, local discovery, gRPC, HTTP."""

from __future__ import annotations

import shutil
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.zone_dev_support import ROOT, DevRun, fanout_ok

FANOUT = ROOT / "examples" / "fanout"


@pytest.fixture
def runs() -> Iterator[list[DevRun]]:
    started: list[DevRun] = []
    yield started
    for run in started:
        run.cleanup()


def test_fanout_answers_with_work_from_every_runner_clone(runs: list[DevRun]) -> None:
    run = DevRun(FANOUT / "autonomy.yaml")
    runs.append(run)
    body = run.wait_for("/fanout?n=999", fanout_ok)
    nodes = sorted(r["node"] for r in body["results"])
    assert nodes == ["fanout-runner-pod-0", "fanout-runner-pod-1", "fanout-runner-pod-2"]
    assert all(r["pod"] == "runner-pod" and r["count"] == 333 for r in body["results"])
    assert body["sum_of_squares"] == sum(i * i for i in range(1, 1000))
    # Every clone got the environment a node gets in a cluster.
    envs = {env["NODE"]: env for env in run.marked_pids().values() if "NODE" in env}
    assert set(envs) == {"fanout-main-pod-0", *nodes}
    assert {env["AUTONOMY_DISCOVERY"] for env in envs.values()} == {"local"}
    assert len({env["AUTONOMY_REGISTRY_DIR"] for env in envs.values()}) == 1
    assert envs["fanout-main-pod-0"]["DEFAULT_PORT_HTTP"] == str(run.port)
    # One zone CA for the run, readable by this user only; no zone token any more.
    ca_dirs = {env["AUTONOMY_DEV_CA_DIR"] for env in envs.values()}
    assert len(ca_dirs) == 1
    ca = Path(ca_dirs.pop())
    assert stat.S_IMODE(ca.stat().st_mode) == 0o700 and stat.S_IMODE(ca.parent.stat().st_mode) == 0o700
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in ca.iterdir()} == {"ca.crt": 0o600, "ca.key": 0o600}
    assert not any("AUTONOMY_ZONE_TOKEN" in env for env in envs.values())
    run.wait_output("runner-pod/runner[2] |", "main-pod/main")  # prefixed logs of every clone

    assert run.stop(signal.SIGINT) == 0
    run.wait_none_left()
    assert "stopped" in run.output()
    assert not ca.parent.exists()  # the run directory, CA included, is gone with the run


def test_sigterm_stops_everything_too(runs: list[DevRun]) -> None:
    run = DevRun(FANOUT / "autonomy.yaml")
    runs.append(run)
    run.wait_for("/readyz", lambda r: r.status_code == 200)
    assert len(run.marked_pids()) == 4
    assert run.stop(signal.SIGTERM) == 0
    run.wait_none_left()


def test_killing_zone_dev_itself_leaves_no_node_behind(runs: list[DevRun]) -> None:
    run = DevRun(FANOUT / "autonomy.yaml")
    runs.append(run)
    run.wait_for("/readyz", lambda r: r.status_code == 200)
    run.stop(signal.SIGKILL)
    run.wait_none_left()


def test_watch_restarts_the_zone_when_a_file_changes(runs: list[DevRun], tmp_path: Path) -> None:
    zone = tmp_path / "fanout"
    shutil.copytree(FANOUT, zone)
    run = DevRun(zone / "autonomy.yaml", "--watch")
    runs.append(run)
    run.wait_for("/fanout?n=10", fanout_ok)
    before = set(run.marked_pids())
    main_py = zone / "images" / "main" / "main.py"
    main_py.write_text(main_py.read_text().replace('"n": n,', '"n": n, "edited": True,'))
    body = run.wait_for("/fanout?n=10", lambda r: (b := fanout_ok(r)) and b.get("edited") and b)
    assert body["sum_of_squares"] == 385
    assert not before & set(run.marked_pids())  # every process is new
    assert run.stop() == 0
    run.wait_none_left()
