"""Pods on kwok's fake nodes have container logs: kwok serves the files named by its `Logs` resources
as a kubelet serves container logs, and the apiserver proxies `pods/log` to it (the node's InternalIP
and kubelet port, TLS checked against the test CA). So `kubectl logs` works as on a real cluster."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.k8s_fixtures import KubernetesCluster, PodLogs
from tests.support.processes import FollowedOutput

pytestmark = pytest.mark.control_plane

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "talker"},
    "spec": {
        "containers": [{"name": "main", "image": "talker:1"}, {"name": "side", "image": "side:1"}],
    },
}


def running(k8s: KubernetesCluster, namespace: str, name: str) -> None:
    k8s.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "-n", namespace, "--timeout=60s", timeout=70)


def test_kubectl_logs_of_a_pod_on_a_fake_node(k8s: KubernetesCluster, namespace: str, pod_logs: PodLogs) -> None:
    k8s.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(POD))
    running(k8s, namespace, "talker")
    old = datetime.now(UTC) - timedelta(hours=2)
    files = pod_logs.provide(namespace, "talker", {"main": ["old one", "old two"], "side": ["side says hi"]}, at=old)
    pod_logs.append(files["main"], "new three")

    def logs(*args: str) -> list[str]:
        return k8s.kubectl("logs", "talker", "-n", namespace, *args).stdout.splitlines()

    assert logs("-c", "main") == ["old one", "old two", "new three"]
    assert logs("-c", "side") == ["side says hi"]
    assert logs("-c", "main", "--tail=2") == ["old two", "new three"]
    assert logs("-c", "main", "--since=1h") == ["new three"]
    assert sorted(logs("--all-containers", "--prefix", "--tail=1")) == [
        "[pod/talker/main] new three",
        "[pod/talker/side] side says hi",
    ]

    follow = FollowedOutput(
        [k8s.kubectl_bin, "logs", "-f", "talker", "-c", "main", "-n", namespace, "--tail=1"], env=k8s.env
    )
    try:
        follow.wait_for(lambda line: line == "new three", timeout=30)
        pod_logs.append(files["main"], "appended while following")
        follow.wait_for(lambda line: line == "appended while following", timeout=10)  # kwok watches the file
    finally:
        follow.stop()
