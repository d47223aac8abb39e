"""The real node's harness (hack/k8s/realnode.py): a pod really runs, and the host is left exactly as it
was, after an orderly stop and after the supervisor was SIGKILLed (the next start, or `clean`, removes the
leftovers from the state file); one real node per machine at a time.

These start nodes of their own, so they run before the session's `real_cluster` (file order: the zone
tests are in test_zone_*.py) and each checks the lock is free first.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.k8s_fixtures import REALNODE_PY, _real_node_setup, controlplane, load_realnode, start_real_node

pytestmark = [pytest.mark.control_plane]

realnode = load_realnode()


@pytest.fixture
def plane(k8s_binaries: Any, tmp_path: Path) -> Iterator[Any]:
    _real_node_setup()
    started = controlplane.ControlPlane(workdir=tmp_path / "k8s", binaries=k8s_binaries, nodes=0)
    started.start()
    try:
        yield started
    finally:
        started.stop()


def kubectl(plane: Any, *args: str, input: str | None = None) -> str:
    return str(plane.kubectl(*args, input=input))


def run_pause_pod(plane: Any, name: str = "sleeper") -> dict[str, Any]:
    """A pod running the node's own pause image (no registry, no Docker needed): Running, with an IP."""
    image = f"{realnode.PAUSE_REPO}:{realnode.pause_hash()}"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": image, "imagePullPolicy": "Never"}],
                    "terminationGracePeriodSeconds": 2}}  # fmt: skip
    kubectl(plane, "apply", "-f", "-", input=json.dumps(pod))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = json.loads(kubectl(plane, "get", "pod", name, "-o", "json"))
        if got["status"].get("phase") == "Running" and got["status"].get("podIP"):
            return dict(got)
        time.sleep(0.2)
    pytest.fail(f"pod {name} not Running after 60 s: {json.dumps(got['status'])}")


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {key: {"before": before[key], "after": after[key]} for key in before if before[key] != after[key]}


def test_orderly_stop_leaves_the_host_as_it_was(plane: Any) -> None:
    before = realnode.host_state()
    supervisor = start_real_node(plane.workdir, plane.workdir / "node")
    try:
        pod = run_pause_pod(plane)
        assert pod["spec"]["nodeName"] == realnode.NODE_NAME
        assert pod["status"]["podIP"].startswith("10.244.128.")
        during = realnode.host_state()
        changed = differences(before, during)
        # The node did change the host while it ran (so the comparison below means something).
        assert {"processes", "links", "iptables", "cgroups", "node_ip_on_lo"} <= set(changed), changed
        # A second node on the same machine waits for the lock, then says who holds it.
        second = subprocess.run(
            [sys.executable, str(REALNODE_PY), "run", "--cluster-dir", str(plane.workdir), "--dir",
             str(plane.workdir / "node2"), "--lock-timeout", "1"], capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1 and "another real node holds" in second.stderr, second.stderr
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=90)
    assert supervisor.returncode == 0
    assert differences(before, realnode.host_state()) == {}
    assert not Path(realnode.STATE_DIR / "state.json").exists()


def test_after_a_sigkill_the_next_start_cleans_up(plane: Any) -> None:
    before = realnode.host_state()
    supervisor = start_real_node(plane.workdir, plane.workdir / "node")
    run_pause_pod(plane)
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait()
    time.sleep(1.0)  # the kubelet and containerd get their parent-death signal and exit
    left = differences(before, realnode.host_state())
    # What a SIGKILL leaves behind: the pod's processes (shim, pause), its cgroups, mounts, links, rules.
    assert {"processes", "cgroups", "iptables", "links"} <= set(left), left
    assert (realnode.STATE_DIR / "state.json").exists()
    # The next start removes the leftovers first, and its own stop leaves the host as it was.
    supervisor = start_real_node(plane.workdir, plane.workdir / "node")
    supervisor.send_signal(signal.SIGTERM)
    supervisor.wait(timeout=90)
    assert differences(before, realnode.host_state()) == {}
    log = (plane.workdir / "node-supervisor.log").read_text()
    assert "cleaning up after a real node that did not stop cleanly" in log
