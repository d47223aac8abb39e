"""The control plane's start-up and tear-down leave no process and no port behind: after a normal
stop, after the runner is interrupted (SIGINT, SIGTERM), after it is killed outright (SIGKILL: only
the children's parent-death signal can help), and after a pytest session whose test failed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.k8s_fixtures import CONTROLPLANE_PY, controlplane

pytestmark = pytest.mark.control_plane

REPO = Path(__file__).resolve().parent.parent.parent


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def listening(port: int) -> bool:
    """True while something listens on 127.0.0.1:port (SO_REUSEADDR ignores TIME_WAIT leftovers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return True
        return False


def assert_all_gone(workdir: Path, ports: list[int], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (left := processes_mentioning(str(workdir))) or any(listening(p) for p in ports):
        if time.monotonic() > deadline:
            busy = [p for p in ports if listening(p)]
            pytest.fail(f"left behind: processes {left}, listening ports {busy}")
        time.sleep(0.1)


def test_start_then_stop_leaves_nothing_behind(k8s_binaries: Any, tmp_path: Path) -> None:
    workdir = tmp_path / "cp"
    plane = controlplane.ControlPlane(workdir=workdir, binaries=k8s_binaries, nodes=1)
    plane.start()
    try:
        ports = list(plane.ports.values())
        names = [c.name for c in plane.components]
        assert names == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
        assert len(processes_mentioning(str(workdir))) == len(names)
        assert all(listening(p) for p in ports)
    finally:
        plane.stop()

    assert_all_gone(workdir, ports, timeout=1)  # stop() returns only once everything is gone


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_interrupted_runner_leaves_nothing_behind(k8s_binaries: Any, tmp_path: Path, signum: int) -> None:
    workdir = tmp_path / "cp"
    runner = subprocess.Popen([sys.executable, str(CONTROLPLANE_PY), "run", "--dir", str(workdir)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = runner.stdout.readline() if runner.stdout else ""
        assert line.startswith("export KUBECONFIG="), runner.stderr.read() if runner.stderr else ""
        state = json.loads((workdir / "state.json").read_text())
        ports = list(state["ports"].values())
        components = {c["pid"] for c in state["components"]}
        assert len(components) == 5
        assert set(processes_mentioning(str(workdir))) == components | {runner.pid}

        runner.send_signal(signum)
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for stream in (runner.stdout, runner.stderr):
            if stream:
                stream.close()

    if signum != signal.SIGKILL:
        assert runner.returncode == 0
    assert_all_gone(workdir, ports)


def nested_pytest(tmp_path: Path, test_source: str) -> tuple[list[str], dict[str, str], Path]:
    """argv, env and basetemp of a pytest run of `test_source` using the k8s fixture (own control plane)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.k8s_fixtures"]\n')
    (tmp_path / "test_nested.py").write_text(textwrap.dedent(test_source))
    basetemp = tmp_path / "basetemp"
    env = {k: v for k, v in os.environ.items()
           if k not in ("AUTONOMY_TEST_KUBECONFIG", "AUTONOMY_TEST_USE_CURRENT_CONTEXT")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={basetemp}",
            "test_nested.py"]
    return argv, env, basetemp


def test_failing_test_session_tears_control_plane_down(k8s_binaries: Any, tmp_path: Path) -> None:
    argv, env, basetemp = nested_pytest(tmp_path, """
        def test_fails(k8s):
            assert k8s.kubectl("get", "nodes").returncode == 0
            assert False, "this test fails on purpose"
    """)

    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
                            check=False)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "this test fails on purpose" in result.stdout
    assert "control plane (Kubernetes" in result.stdout  # it did start
    assert_all_gone(basetemp, [], timeout=1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_test_session_tears_control_plane_down(k8s_binaries: Any, tmp_path: Path,
                                                           signum: int) -> None:
    argv, env, basetemp = nested_pytest(tmp_path, """
        import time
        def test_waits(k8s):
            time.sleep(300)
    """)
    session = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not list(basetemp.glob("k8s*/state.json")) or len(processes_mentioning(str(basetemp))) < 6:
            assert session.poll() is None and time.monotonic() < deadline, "the nested session never started"
        # Interrupted while the control plane starts or runs: either way everything must go.
            time.sleep(0.2)

        session.send_signal(signum)
        session.wait(timeout=60)
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()

    assert session.returncode == 2  # pytest's "interrupted", after an orderly teardown
    assert_all_gone(basetemp, [], timeout=1)
