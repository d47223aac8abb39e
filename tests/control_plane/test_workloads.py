"""A Deployment applied with kubectl becomes Running pods: apiserver, controller-manager, scheduler
and kwok all have to do their part for this to pass."""

from __future__ import annotations

import json
import time

import pytest

from tests.k8s_fixtures import KubernetesCluster

pytestmark = pytest.mark.control_plane

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.k8s.io/pause:3.10
"""


def running_pods(k8s: KubernetesCluster, namespace: str, selector: str) -> list[dict[str, object]]:
    listing = json.loads(k8s.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout)
    return [pod for pod in listing["items"]
            if pod["status"].get("phase") == "Running" and pod["status"].get("podIP")]


def test_deployment_of_three_replicas_becomes_three_running_pods(k8s: KubernetesCluster,
                                                                 namespace: str) -> None:
    k8s.kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT)

    deadline = time.monotonic() + 90
    while len(pods := running_pods(k8s, namespace, "app=web")) < 3:
        assert time.monotonic() < deadline, f"only {len(pods)} of 3 pods Running after 90 s"
        time.sleep(0.5)

    assert len(pods) == 3
    ips = {pod["status"]["podIP"] for pod in pods}  # type: ignore[index]
    assert len(ips) == 3, f"pods share IPs: {ips}"
    nodes = {pod["spec"]["nodeName"] for pod in pods}  # type: ignore[index]
    if k8s.fake_nodes:  # our own control plane: the pods run on kwok's simulated nodes
        assert nodes <= set(k8s.fake_nodes)
    deployment = json.loads(k8s.kubectl("get", "deployment", "web", "-n", namespace, "-o", "json").stdout)
    deadline = time.monotonic() + 30
    while deployment["status"].get("readyReplicas") != 3:
        assert time.monotonic() < deadline, f"deployment status: {deployment['status']}"
        time.sleep(0.5)
        deployment = json.loads(k8s.kubectl("get", "deployment", "web", "-n", namespace, "-o", "json").stdout)
