"""The helm CLI built from its Go module lints, renders and installs a chart against the control plane
(the project's chart is tested the same way). The chart is written by the test into tmp_path."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.k8s_fixtures import KubernetesCluster

pytestmark = pytest.mark.control_plane

CHART_YAML = """\
apiVersion: v2
name: throwaway
description: a chart written by the test
version: 0.1.0
appVersion: "1.0"
kubeVersion: ">=1.30.0-0"
"""

VALUES_YAML = """\
replicas: 1
image: registry.k8s.io/pause:3.10
greeting: hello
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-app
  labels: {app.kubernetes.io/instance: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app.kubernetes.io/instance: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app.kubernetes.io/instance: {{ .Release.Name }}}
    spec:
      containers:
        - name: app
          image: {{ .Values.image | quote }}
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
"""


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    root = tmp_path / "throwaway"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text(CHART_YAML)
    (root / "values.yaml").write_text(VALUES_YAML)
    (root / "templates" / "deployment.yaml").write_text(DEPLOYMENT)
    (root / "templates" / "configmap.yaml").write_text(CONFIGMAP)
    return root


def minor(version: str) -> str:
    """'v1.33.13' -> 'v1.33'."""
    return ".".join(version.split(".")[:2])


def test_helm_lint_passes_and_catches_a_broken_chart(k8s: KubernetesCluster, chart: Path) -> None:
    assert "0 chart(s) failed" in k8s.helm("lint", str(chart)).stdout

    (chart / "templates" / "broken.yaml").write_text("kind: ConfigMap\nmetadata: {name: {{ .Values.x \n")
    broken = k8s.helm("lint", str(chart), check=False)
    assert broken.returncode != 0
    assert "broken.yaml" in broken.stdout + broken.stderr


def test_helm_template_renders_values_offline(k8s: KubernetesCluster, chart: Path) -> None:
    rendered = k8s.helm("template", "demo", str(chart), "--set", "replicas=4").stdout

    docs = {doc["kind"]: doc for doc in yaml.safe_load_all(rendered) if doc}
    assert docs["Deployment"]["metadata"]["name"] == "demo-app"
    assert docs["Deployment"]["spec"]["replicas"] == 4
    if k8s.kubernetes_version:  # helm is stamped with the Kubernetes version it was built against
        assert minor(docs["ConfigMap"]["data"]["kubeVersion"]) == minor(k8s.kubernetes_version)


def test_helm_install_creates_ready_release(k8s: KubernetesCluster, namespace: str, chart: Path) -> None:
    k8s.helm("install", "demo", str(chart), "-n", namespace, "--set", "replicas=2", "--set",
             "greeting=hi", "--wait", "--timeout", "120s")

    releases = json.loads(k8s.helm("list", "-n", namespace, "-o", "json").stdout)
    assert [(r["name"], r["status"]) for r in releases] == [("demo", "deployed")]
    settings = json.loads(k8s.kubectl("get", "configmap", "demo-settings", "-n", namespace, "-o",
                                      "json").stdout)
    assert settings["data"]["greeting"] == "hi"
    server = json.loads(k8s.kubectl("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]
    assert settings["data"]["kubeVersion"] == server  # install sees the live cluster's version
    deployment = json.loads(k8s.kubectl("get", "deployment", "demo-app", "-n", namespace, "-o",
                                        "json").stdout)
    assert deployment["status"].get("readyReplicas") == 2  # --wait returned only once it was ready

    k8s.helm("uninstall", "demo", "-n", namespace, "--wait", "--timeout", "60s")
    deadline = time.monotonic() + 30
    while k8s.kubectl("get", "deployment", "demo-app", "-n", namespace, check=False).returncode == 0:
        assert time.monotonic() < deadline, "deployment still there after helm uninstall"
        time.sleep(0.2)
