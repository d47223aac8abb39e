"""`autonomy zone logs` against the real control plane: a Zone reconciled by the operator, its pods made
Running by kwok, and their containers given logs through kwok's `Logs` resources (the `pod_logs`
fixture), which the apiserver serves as `pods/log` like any kubelet's. The CLI runs as a subprocess."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from autonomy.spec import parse_zone
from tests.k8s_fixtures import KubernetesCluster, PodLogs
from tests.operator_fixtures import OperatorProcess, apply, get_json
from tests.support.processes import FollowedOutput

pytestmark = pytest.mark.control_plane

AUTONOMY = str(Path(sys.executable).with_name("autonomy"))
ZONE: dict[str, Any] = {
    "name": "logz",
    "pods": [
        {"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}]},
        {
            "name": "runner",
            "clones": 2,
            "containers": [{"name": "main", "image": "runner"}, {"name": "helper", "image": "ghcr.io/org/helper:1"}],
        },
    ],
}
# `<pod>/<container> | <text>`, the label padded to the widest one.
LINE = re.compile(r"^(?P<label>\S+/\S+) +\| (?P<text>.*)$")


def cli(k8s: KubernetesCluster, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**k8s.env, "AUTONOMY_HOME": str(home)}
    return subprocess.run([AUTONOMY, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def parsed(stdout: str) -> list[tuple[str, str]]:
    """(label, text) of every line; fails on a line without the prefix."""
    out = []
    for line in stdout.splitlines():
        match = LINE.match(line)
        assert match, f"line without a pod/container prefix: {line!r}"
        out.append((match["label"], match["text"]))
    return out


def texts(lines: list[tuple[str, str]], label: str) -> list[str]:
    return [text for lab, text in lines if lab == label]


def test_zone_logs_of_every_clone_prefixed(
    k8s: KubernetesCluster, namespace: str, operator: OperatorProcess, pod_logs: PodLogs, tmp_path: Path
) -> None:
    apply(k8s, parse_zone(ZONE).zone_manifest(namespace))
    k8s.kubectl("wait", "--for=condition=Ready", "zone/logz", "-n", namespace, "--timeout=90s", timeout=100)
    pods = get_json(k8s, "pods", "-n", namespace, "-l", "autonomy.computer/zone=logz")["items"]
    by_pod = {p["metadata"]["name"]: p["metadata"]["labels"]["autonomy.computer/pod"] for p in pods}
    runners = sorted(name for name, seed in by_pod.items() if seed == "runner")
    (main_pod,) = (name for name, seed in by_pod.items() if seed == "main-pod")
    assert len(runners) == 2
    home = tmp_path / "home"

    def logs(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(k8s, home, "zone", "logs", "logz", "-n", namespace, *args)

    # Each container logs two old lines and one recent one; every text names its pod and container,
    # so a line under the wrong prefix shows.
    old = datetime.now(UTC) - timedelta(hours=2)
    files: dict[str, Path] = {}
    streams = {f"{r}/{c}" for r in runners for c in ("main", "helper")}
    for runner in runners:
        for container, path in pod_logs.provide(
            namespace, runner, {c: [f"{runner} {c} 1", f"{runner} {c} 2"] for c in ("main", "helper")}, at=old
        ).items():
            files[f"{runner}/{container}"] = path

    # The main pod has no logs yet: its stream fails, on stderr and in the exit code; the others print.
    partial = logs()
    assert partial.returncode == 1, partial.stderr
    assert f"{main_pod}/main" in partial.stderr and "no logs found" in partial.stderr
    assert {label for label, _ in parsed(partial.stdout)} == streams

    files |= {
        f"{main_pod}/main": pod_logs.provide(namespace, main_pod, {"main": [f"{main_pod} main 1"]}, at=old)["main"]
    }
    streams.add(f"{main_pod}/main")
    for label, path in files.items():
        pod_logs.append(path, f"{label.replace('/', ' ')} recent")

    everything = logs()
    assert everything.returncode == 0, everything.stderr
    lines = parsed(everything.stdout)
    assert {label for label, _ in lines} == streams
    for label in streams:
        pod, container = label.split("/")
        numbered = [f"{pod} {container} {i}" for i in (1, 2)] if pod != main_pod else [f"{pod} main 1"]
        assert texts(lines, label) == [*numbered, f"{pod} {container} recent"]  # in order, under its prefix

    tail = parsed(logs("--tail", "1").stdout)
    assert sorted(tail) == sorted((label, f"{label.replace('/', ' ')} recent") for label in streams)

    since = parsed(logs("--since", "1h").stdout)
    assert sorted(since) == sorted(tail)

    helpers = logs("--pod", "runner", "--container", "helper", "--tail", "-1")
    assert helpers.returncode == 0, helpers.stderr
    assert {label for label, _ in parsed(helpers.stdout)} == {f"{r}/helper" for r in runners}
    assert len(parsed(helpers.stdout)) == 6

    missing = logs("--container", "nope")
    assert missing.returncode == 4 and "no container 'nope'" in missing.stderr

    # --follow (-f): the last line of each runner's main container, then a line appended to one of
    # them shows up under its prefix, while the command keeps running.
    follow = FollowedOutput(
        [AUTONOMY, "zone", "logs", "logz", "-n", namespace, "-f", "-p", "runner", "-c", "main", "--tail", "1"],
        env={**k8s.env, "AUTONOMY_HOME": str(home)},
    )
    try:
        for runner in runners:
            label = f"{runner}/main "
            follow.wait_for(lambda line: line.startswith(label) and line.endswith("recent"), timeout=30)  # noqa: B023
        pod_logs.append(files[f"{runners[1]}/main"], "appended while following")
        line = follow.wait_for(lambda line: "appended while following" in line, timeout=10)
        assert LINE.match(line) and line.startswith(f"{runners[1]}/main ")
        assert follow.process.poll() is None  # still following
    finally:
        stderr = follow.stop()
    assert "Traceback" not in stderr
