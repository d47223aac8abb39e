"""Node containers get their ports and probes however their images are named, through the real API server
and an operator holding only the chart's RBAC.

A Zone as `autonomy zone deploy` applies it (local images renamed to `<registry>/<zone>-<name>:<tag>`, `node`
written for every container) and one written by hand for `kubectl apply` before `node` existed: both must
end up with probes on exactly their node containers, in the Deployments and in the pods made from them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from autonomy.cli.deploy import zone_manifest
from autonomy.spec import parse_zone
from tests.k8s_fixtures import KubernetesCluster
from tests.operator_fixtures import REPO, OperatorProcess, apply, get_json, wait_for

pytestmark = pytest.mark.control_plane

DEPLOYED = {
    "name": "probed",
    "pods": [
        {
            "name": "main-pod",
            "public": True,
            "containers": [{"name": "main", "image": "main"}, {"name": "tools", "image": "tools"}],
        },
        {"name": "runner-pod", "clones": 2, "containers": [{"name": "runner", "image": "runner"}]},
    ],
}
REFS = {name: f"registry.example/probed-{name}:abc" for name in ("main", "tools", "runner")}


@pytest.fixture
def chart_operator(
    k8s: KubernetesCluster, namespace: str, autonomy_crds: None, operator_process: OperatorProcess, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """The chart installed with helm, and the operator run with its ServiceAccount's token only."""
    release = f"np{uuid.uuid4().hex[:6]}"
    cluster = f"helm-{release}"
    k8s.helm(
        "install", release, str(REPO / "charts" / "autonomy"), "-n", namespace, "--wait=false",
        "--set", f"cluster.name={cluster}", "--set", "image.repository=autonomy/operator", "--set", "image.tag=test",
    )
    operator_process.stop()  # one operator at a time
    process = OperatorProcess(k8s, tmp_path)
    try:
        token = k8s.kubectl("create", "token", f"{release}-autonomy", "-n", namespace, "--duration=1h").stdout.strip()
        view = json.loads(k8s.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
        view["users"] = [{"name": "chart", "user": {"token": token}}]
        view["contexts"][0]["context"]["user"] = "chart"
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(view))
        process.start(
            KUBECONFIG=str(kubeconfig), AUTONOMY_OPERATOR_CLUSTER=cluster, AUTONOMY_OPERATOR_NAMESPACES=namespace
        )
        yield process
    finally:
        process.stop()
        k8s.helm("uninstall", release, "-n", namespace, check=False)
        k8s.kubectl("delete", "clusters.autonomy.computer", cluster, "--ignore-not-found", check=False)
        operator_process.start()


def containers_of(k8s: KubernetesCluster, namespace: str, deployment: str) -> dict[str, dict[str, Any]]:
    found = wait_for(
        f"Deployment {deployment}", lambda: get_json(k8s, "deployment", deployment, "-n", namespace), timeout=120
    )
    return {c["name"]: c for c in found["spec"]["template"]["spec"]["containers"]}


def assert_probed_node(container: dict[str, Any]) -> None:
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000, "transport": 50051}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def assert_not_a_node(container: dict[str, Any]) -> None:
    assert not {"ports", "readinessProbe", "livenessProbe", "startupProbe"} & set(container)


def test_zones_with_renamed_images_get_probes_on_their_node_containers(
    k8s: KubernetesCluster, namespace: str, chart_operator: OperatorProcess
) -> None:
    # As `zone deploy` applies it: renamed images, `node` said for each container.
    manifest = zone_manifest(parse_zone(DEPLOYED), namespace, REFS)
    apply(k8s, manifest)
    stored = get_json(k8s, "zone", "probed", "-n", namespace)
    # The CRD keeps the field (a structural schema would silently drop an unknown one).
    assert [c.get("node") for c in stored["spec"]["pods"][0]["containers"]] == [True, False]

    main_pod = containers_of(k8s, namespace, "probed-main-pod")
    assert main_pod["main"]["image"] == REFS["main"]
    assert_probed_node(main_pod["main"])
    assert_not_a_node(main_pod["tools"])
    runner = containers_of(k8s, namespace, "probed-runner-pod")["runner"]
    assert runner["image"] == REFS["runner"]
    assert_probed_node(runner)

    # What a kubectl user wrote before `node` existed still means what it meant: the API server adds
    # no default, and the operator takes the local image as the node, the one with '/' as a tool.
    apply(
        k8s,
        {
            "apiVersion": "autonomy.computer/v1alpha1",
            "kind": "Zone",
            "metadata": {"name": "byhand", "namespace": namespace},
            "spec": {"pods": [{"name": "main-pod", "containers": [
                {"name": "main", "image": "main"}, {"name": "mcp", "image": "ghcr.io/org/mcp:1"}]}]},
        },
    )
    assert "node" not in get_json(k8s, "zone", "byhand", "-n", namespace)["spec"]["pods"][0]["containers"][0]
    by_hand = containers_of(k8s, namespace, "byhand-main-pod")
    assert_probed_node(by_hand["main"])
    assert_not_a_node(by_hand["mcp"])

    # The pods the controller-manager makes carry them too, and the zone turns Ready.
    k8s.kubectl("wait", "--for=condition=Ready", "zone/probed", "-n", namespace, "--timeout=120s", timeout=130)
    selector = "autonomy.computer/zone=probed,autonomy.computer/pod=runner-pod"
    pods = get_json(k8s, "pods", "-n", namespace, "-l", selector)
    assert len(pods["items"]) == 2
    for pod in pods["items"]:
        (container,) = pod["spec"]["containers"]
        assert_probed_node(container)
    assert "forbidden" not in chart_operator.logs().lower()
