"""examples/fanout on real pods, end to end (issue 11, tests 1, 3 and 5), in the order a user lives it:

1. `autonomy zone deploy --wait`: images built, imported into the node, pods Running and Ready; `GET /fanout`
   through the Service's ClusterIP answers with results computed on every runner clone, which the main node
   found by Kubernetes discovery from inside its pod.
3. clones 3 -> 5: the new runners are found and used without a restart of the main node; a runner pod
   deleted while requests to it are pending: they fail within a second, the others carry on, the
   replacement is found.
6. a pod of another namespace cannot open a transport link or ship a worker to a zone node (mutual TLS).
5. `autonomy zone delete --yes`: every child, every pod and the zone's Secret are gone.

The tests share one zone (deploying it is the slow part) and run in this file's order.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docker_engine import ROOT
from tests.k8s_fixtures import RealCluster
from tests.real_pods.conftest import Cli, get_json, wait_until

# The first test builds the node, app and operator images (minutes on a cold, busy machine).
pytestmark = [pytest.mark.docker, pytest.mark.control_plane, pytest.mark.timeout(1800)]

ZONE = "fanout"
ZONE_LABEL = f"autonomy.computer/zone={ZONE}"
RUNNER_LABEL = f"{ZONE_LABEL},autonomy.computer/pod=runner-pod"
MAIN_LABEL = f"{ZONE_LABEL},autonomy.computer/pod=main-pod"
FAIL_WITHIN = 1.0  # seconds from a runner pod's deletion to the failure of the requests pending on it


@dataclass
class DeployedZone:
    namespace: str
    project: Path  # a copy of examples/fanout (its clones get changed)
    deploy_seconds: float
    deploy_output: str

    def set_clones(self, clones: int) -> None:
        config = self.project / "autonomy.yaml"
        spec = yaml.safe_load(config.read_text())
        for pod in spec["pods"]:
            if pod["name"] == "runner-pod":
                pod["clones"] = clones
        config.write_text(yaml.safe_dump(spec, sort_keys=False))


@pytest.fixture(scope="module")
def fanout(cli: Cli, zone_namespace_module: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedZone]:
    project = tmp_path_factory.mktemp("fanout") / "fanout"
    shutil.copytree(ROOT / "examples" / "fanout", project)
    started = time.monotonic()
    result = cli.run("zone", "deploy", "--config", str(project / "autonomy.yaml"), "--wait", "--timeout", "300",
                     "--namespace", zone_namespace_module)  # fmt: skip
    zone = DeployedZone(zone_namespace_module, project, time.monotonic() - started, result.stderr)
    yield zone
    cli.run("zone", "delete", ZONE, "--yes", "--namespace", zone_namespace_module, check=False)


@pytest.fixture(scope="module")
def zone_namespace_module(real_cluster: RealCluster) -> Iterator[str]:
    import uuid

    k8s = real_cluster.k8s
    name = f"rp-fanout-{uuid.uuid4().hex[:6]}"
    k8s.kubectl("create", "namespace", name)
    wait_until(f"namespace {name}'s default ServiceAccount",
               lambda: k8s.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0, timeout=30)
    yield name
    k8s.kubectl("delete", "namespace", name, "--wait=false", check=False)


def pods(real_cluster: RealCluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    found = get_json(real_cluster.k8s, "pods", "-n", namespace, "-l", selector) or {"items": []}
    return sorted(found["items"], key=lambda p: p["metadata"]["name"])


def ready(pod: dict[str, Any]) -> bool:
    conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
    return pod.get("status", {}).get("phase") == "Running" and conditions.get("Ready") == "True" \
        and not pod["metadata"].get("deletionTimestamp")


def service_url(real_cluster: RealCluster, namespace: str) -> str:
    services = get_json(real_cluster.k8s, "services", "-n", namespace, "-l", MAIN_LABEL)["items"]
    assert len(services) == 1, f"expected the public pod's Service, found {[s['metadata']['name'] for s in services]}"
    spec = services[0]["spec"]
    assert spec["type"] == "ClusterIP" and spec["clusterIP"].startswith("10.96.")
    return f"http://{spec['clusterIP']}:{spec['ports'][0]['port']}"


def get_fanout(url: str, n: int, timeout: float = 30) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/fanout?n={n}", timeout=timeout) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def fanout_with(url: str, n: int, runners: set[str], timeout: float = 120, *,
                without: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The first /fanout answer computed on exactly `runners` (pod names); with `without`, on at least
    `runners` and not on `without`."""
    def probe() -> dict[str, Any] | None:
        try:
            answer = get_fanout(url, n, timeout=10)
        except (urllib.error.URLError, OSError, ValueError):
            return None
        nodes = {r["node"] for r in answer["results"]}
        if without is not None:
            return answer if nodes >= runners and without not in nodes else None
        return answer if nodes == runners else None

    what = f"/fanout computed on {sorted(runners)}" + (f" and not on {without}" if without else "")
    return wait_until(what, probe, timeout=timeout, interval=0.3)


def test_deploy_wait_runs_the_zone_on_real_pods(real_cluster: RealCluster, fanout: DeployedZone) -> None:
    out = fanout.deploy_output
    for image in ("main", "runner"):
        assert f"image {image}: imported autonomy.local/fanout-{image}:" in out, out
    assert "is Ready after" in out, out
    main, runners = pods(real_cluster, fanout.namespace, MAIN_LABEL), pods(real_cluster, fanout.namespace,
                                                                            RUNNER_LABEL)  # fmt: skip
    assert len(main) == 1 and len(runners) == 3
    for pod in main + runners:
        assert pod["spec"]["nodeName"] == real_cluster.node
        assert ready(pod), json.dumps(pod["status"], indent=1)
        assert pod["status"]["podIP"].startswith("10.244.128."), pod["status"]
    # The containers run the images the CLI built and imported (never pulled: there is no registry).
    listed = real_cluster.ctr("images", "ls", "-q").stdout.decode().split()
    for pod in main + runners:
        image = pod["spec"]["containers"][0]["image"]
        assert image.startswith("autonomy.local/fanout-") and image in listed


def test_fanout_through_the_cluster_ip_uses_every_runner(real_cluster: RealCluster, fanout: DeployedZone) -> None:
    url = service_url(real_cluster, fanout.namespace)
    runners = {p["metadata"]["name"] for p in pods(real_cluster, fanout.namespace, RUNNER_LABEL)}
    n = 3000
    answer = fanout_with(url, n, runners)
    assert answer["sum_of_squares"] == sum(i * i for i in range(1, n + 1))
    assert sum(r["count"] for r in answer["results"]) == n
    assert {r["pod"] for r in answer["results"]} == {"runner-pod"}
    # The main node found them by Kubernetes discovery, from inside its pod (in-cluster config).
    main = pods(real_cluster, fanout.namespace, MAIN_LABEL)[0]
    env = {e["name"]: e.get("value") for e in main["spec"]["containers"][0].get("env", [])}
    assert env.get("AUTONOMY_DISCOVERY") == "kubernetes"


def test_node_containers_have_probes_and_ports(real_cluster: RealCluster, fanout: DeployedZone) -> None:
    """Readiness must mean the node serves HTTP and has joined the transport (issue 11, owned by the
    operator's container builder): every node container needs its probes and ports, however it is named."""
    for pod in pods(real_cluster, fanout.namespace, ZONE_LABEL):
        container = pod["spec"]["containers"][0]
        missing = [k for k in ("readinessProbe", "livenessProbe", "startupProbe", "ports") if k not in container]
        assert not missing, (
            f"node container {container['name']} of {pod['metadata']['name']} (image {container['image']}) has no "
            f"{', '.join(missing)}: the operator still recognises node containers by an image name without '/', "
            "and the CLI deploys <registry>/<zone>-<name>:<tag>; it must tell node containers from the zone spec"
        )


def test_more_clones_are_found_without_restarting_the_main_node(
    real_cluster: RealCluster, cli: Cli, fanout: DeployedZone
) -> None:
    main_before = pods(real_cluster, fanout.namespace, MAIN_LABEL)[0]
    fanout.set_clones(5)
    cli.run("zone", "deploy", "--config", str(fanout.project / "autonomy.yaml"), "--wait", "--timeout", "300",
            "--namespace", fanout.namespace)  # fmt: skip
    runners = wait_until("5 runner pods Ready", lambda: (
        found if len(found := [p for p in pods(real_cluster, fanout.namespace, RUNNER_LABEL) if ready(p)]) == 5
        else None), timeout=180)  # fmt: skip
    answer = fanout_with(service_url(real_cluster, fanout.namespace), 5000, {p["metadata"]["name"] for p in runners})
    assert len(answer["results"]) == 5
    main_after = pods(real_cluster, fanout.namespace, MAIN_LABEL)[0]
    assert main_after["metadata"]["uid"] == main_before["metadata"]["uid"], "the main pod was replaced"
    before = main_before["status"]["containerStatuses"][0]
    after = main_after["status"]["containerStatuses"][0]
    assert after["restartCount"] == before["restartCount"]
    assert after["state"]["running"]["startedAt"] == before["state"]["running"]["startedAt"]


def test_a_crashed_runner_fails_its_pending_requests_fast(real_cluster: RealCluster, fanout: DeployedZone) -> None:
    """A runner node killed outright (SIGKILL of its container, as a crash or an OOM kill would): the
    requests pending on it fail within FAIL_WITHIN, the others carry on, and the restarted node is found
    again. (A pod *deleted* is stopped gracefully: the node leaves discovery and drains, so nothing fails.)"""
    url = service_url(real_cluster, fanout.namespace)
    runners = [p["metadata"]["name"] for p in pods(real_cluster, fanout.namespace, RUNNER_LABEL) if ready(p)]
    assert len(runners) >= 3  # 5 after the scale test, 3 when run alone
    fanout_with(url, 1000, set(runners))  # everyone warm
    main_before = pods(real_cluster, fanout.namespace, MAIN_LABEL)[0]["status"]["containerStatuses"][0]
    # Steady load across the deletion: every request fans out to every runner, so the ones in flight when
    # the victim goes are pending on it. (start, end, outcome) of each.
    outcomes: list[tuple[float, float, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            began = time.monotonic()
            try:
                get_fanout(url, 20_000, timeout=90)
                outcome = "ok"
            except urllib.error.HTTPError as error:
                outcome = f"http {error.code}"
            except (urllib.error.URLError, OSError) as error:
                outcome = f"error {error}"
            with lock:
                outcomes.append((began, time.monotonic(), outcome))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    victim = runners[0]
    victim_pod = next(p for p in pods(real_cluster, fanout.namespace, RUNNER_LABEL) if p["metadata"]["name"] == victim)
    container = victim_pod["status"]["containerStatuses"][0]
    killed = real_cluster.ctr("tasks", "kill", "--signal", "SIGKILL", container["containerID"].split("://", 1)[1])
    assert killed.returncode == 0, killed.stderr.decode()
    deleted_at = time.monotonic()  # the node process is gone
    time.sleep(8.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    main_after = pods(real_cluster, fanout.namespace, MAIN_LABEL)[0]["status"]["containerStatuses"][0]
    assert main_after["restartCount"] == main_before["restartCount"], f"the main node restarted: {main_after}"
    failed = [(round(b - deleted_at, 2), round(e - deleted_at, 2), o) for b, e, o in outcomes if o != "ok"]
    assert failed, f"no request was pending on {victim} when it was killed: {outcomes}"
    # Each failure comes within FAIL_WITHIN of the deletion (or of its own start, if it began later).
    slow = [(b, e, o) for b, e, o in failed if e - max(b, 0.0) > FAIL_WITHIN]
    assert not slow, f"requests to the deleted runner failed late (start, end, outcome from the delete): {slow}"
    assert all(o.startswith("http 5") for _, _, o in failed), f"the main node itself failed requests: {failed}"
    # The others carry on.
    carried_on = [e for b, e, o in outcomes if o == "ok" and b > deleted_at]
    assert carried_on, f"no /fanout succeeded in the 8 s after the delete: {failed}"
    # The kubelet restarts the container in the same pod: the node comes back under its name and is used again.
    wait_until("the killed runner restarted and Ready", lambda: any(
        p["metadata"]["name"] == victim and ready(p)
        and p["status"]["containerStatuses"][0]["restartCount"] > container["restartCount"]
        for p in pods(real_cluster, fanout.namespace, RUNNER_LABEL)), timeout=120)  # fmt: skip
    fanout_with(url, 1000, set(runners), timeout=120)


def test_a_rolling_update_is_not_ready_until_done_and_fanout_keeps_answering(
    real_cluster: RealCluster, cli: Cli, fanout: DeployedZone
) -> None:
    """Test 4: the runner image changes; the zone must say Ready=False until the rollout has finished, and
    /fanout must keep answering during it."""
    k8s = real_cluster.k8s
    ns = fanout.namespace
    url = service_url(real_cluster, ns)
    runner_main = fanout.project / "images" / "runner" / "main.py"
    runner_main.write_text(runner_main.read_text() + "\n# rolled out by the real-pods tests\n")
    answers: list[tuple[float, str]] = []
    statuses: list[tuple[float, bool, bool]] = []  # (time, zone Ready for its generation, rollout complete)
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                get_fanout(url, 1000, timeout=30)
                answers.append((time.monotonic(), "ok"))
            except (urllib.error.URLError, OSError) as error:
                answers.append((time.monotonic(), str(error)))
            time.sleep(0.1)

    def watch() -> None:
        from autonomy.cli.deploy import is_ready

        while not stop.is_set():
            zone = get_json(k8s, "zone.autonomy.computer", ZONE, "-n", ns) or {}
            deployment = get_json(k8s, "deployment", "-n", ns, "-l", RUNNER_LABEL)["items"][0]
            status, spec = deployment.get("status", {}), deployment["spec"]
            done = (status.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
                    and status.get("updatedReplicas", 0) == spec["replicas"] == status.get("replicas", 0)
                    and status.get("availableReplicas", 0) == spec["replicas"])  # fmt: skip
            statuses.append((time.monotonic(), bool(zone) and is_ready(zone), done))
            time.sleep(0.2)

    threads = [threading.Thread(target=load), threading.Thread(target=watch)]
    for thread in threads:
        thread.start()
    try:
        cli.run("zone", "deploy", "--config", str(fanout.project / "autonomy.yaml"), "--wait", "--timeout", "300",
                "--namespace", ns)  # fmt: skip
        wait_until("the runner rollout complete", lambda: statuses and statuses[-1][2], timeout=180)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    images = {p["spec"]["containers"][0]["image"] for p in pods(real_cluster, ns, RUNNER_LABEL) if ready(p)}
    assert len(images) == 1, f"runners on several images after the rollout: {images}"
    failures = [e for _, e in answers if e != "ok"]
    assert answers and len(failures) <= len(answers) // 10, f"/fanout failed during the rollout: {failures[:10]}"
    ready_mid_rollout = [t for t, zone_ready, done in statuses if zone_ready and not done]
    assert not ready_mid_rollout, (
        f"the Zone said Ready for its new generation {len(ready_mid_rollout)} times while the runner Deployment's "
        "rollout was not finished: the operator's Ready condition must wait for updated and available replicas"
    )


def test_a_pod_of_another_namespace_cannot_link_or_ship_a_worker(
    real_cluster: RealCluster, fanout: DeployedZone, tmp_path: Path
) -> None:
    """Issue 16 from a real pod: a pod in another namespace reaches a runner's transport port (nothing
    enforces NetworkPolicy here, so only mutual TLS stands in the way) and tries, in plaintext and with a
    certificate of its own CA that claims the runner's very identity, to ship a worker whose unpickling
    writes a marker. Both are refused, and no marker appears in the runner."""
    from autonomy.identity import WorkloadId, ZoneAuthority, make_csr, new_private_key, private_key_pem

    k8s = real_cluster.k8s
    runner = next(p for p in pods(real_cluster, fanout.namespace, RUNNER_LABEL) if ready(p))
    node, ip, image = runner["metadata"]["name"], runner["status"]["podIP"], runner["spec"]["containers"][0]["image"]
    cluster_id = get_json(k8s, "cluster.autonomy.computer", "autonomy-test")["status"]["clusterId"]
    bundle = get_json(k8s, "configmap", f"{ZONE}-ca", "-n", fanout.namespace)["data"]["ca.crt"]
    victim = WorkloadId(cluster_id, fanout.namespace, ZONE, node)
    impostor = ZoneAuthority.create(cluster_id, fanout.namespace, ZONE)  # the right names, the wrong CA
    key = new_private_key()
    files = {
        "outsider.py": (ROOT / "tests" / "runtime" / "outsider.py").read_text(),
        "ca.pem": bundle,  # public: the outsider may well trust the zone's real CA
        "cert.pem": impostor.issue(make_csr(key, victim, (victim.dns_name,)), victim,
                                   dns_names=(victim.dns_name,)).decode(),
        "key.pem": private_key_pem(key).decode(),
    }
    outsiders = f"rp-outsider-{node[-5:]}"
    k8s.kubectl("create", "namespace", outsiders)
    try:
        k8s.kubectl("create", "configmap", "outsider", "-n", outsiders,
                    *(f"--from-file={name}={_write(tmp_path / name, text)}" for name, text in files.items()))
        marker = "/tmp/outsider-ran-here"
        target = f"{ip}:50051"
        plans = {
            "plaintext": {"target": target, "claim": node, "marker": marker, "plaintext": True},
            "impostor-ca": {"target": target, "claim": node, "marker": marker, "server_name": victim.dns_name,
                            "ca": "/outsider/ca.pem", "cert": "/outsider/cert.pem", "key": "/outsider/key.pem"},
        }
        for case, plan in plans.items():
            pod = {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": case, "namespace": outsiders},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "outsider", "image": image, "imagePullPolicy": "Never",
                                    "command": ["python", "/outsider/outsider.py", json.dumps(plan)],
                                    "volumeMounts": [{"name": "outsider", "mountPath": "/outsider"}]}],
                    "volumes": [{"name": "outsider", "configMap": {"name": "outsider"}}],
                },
            }  # fmt: skip
            k8s.kubectl("apply", "-f", "-", input=json.dumps(pod))
        for case in plans:
            wait_until(f"the {case} outsider pod to finish", lambda case=case: (
                (get_json(k8s, "pod", case, "-n", outsiders) or {}).get("status", {}).get("phase")
                in ("Succeeded", "Failed")), timeout=120)  # fmt: skip
            output = k8s.kubectl("logs", case, "-n", outsiders).stdout.strip().splitlines()
            assert output, f"the {case} outsider printed nothing"
            received = json.loads(output[-1])
            assert received["status"] not in ("LINKED", "TIMEOUT"), f"{case}: the runner took the outsider: {received}"
            assert not received["frames"], f"{case}: the runner answered the outsider: {received}"
            if case == "plaintext":  # (the impostor named them itself)
                for secret in (cluster_id, fanout.namespace):
                    assert secret not in json.dumps(received), f"{case}: the outsider learned {secret!r}: {received}"
        found = k8s.kubectl("exec", node, "-n", fanout.namespace, "--", "python", "-c",
                            f"import os; print(os.path.exists({marker!r}))").stdout.strip()
        assert found == "False", "an outsider's pickled code ran on the runner"
        # The runner still serves its zone.
        fanout_with(service_url(real_cluster, fanout.namespace), 1000,
                    {p["metadata"]["name"] for p in pods(real_cluster, fanout.namespace, RUNNER_LABEL) if ready(p)})
    finally:
        k8s.kubectl("delete", "namespace", outsiders, "--wait=false", check=False)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_zone_delete_removes_every_child_pod_and_secret(
    real_cluster: RealCluster, cli: Cli, fanout: DeployedZone
) -> None:
    k8s = real_cluster.k8s
    ns = fanout.namespace
    kinds = "deployments,replicasets,pods,services,serviceaccounts,roles,rolebindings,networkpolicies,secrets," \
            "configmaps,ingresses,poddisruptionbudgets"
    before = get_json(k8s, kinds, "-n", ns, "-l", ZONE_LABEL)["items"]
    assert {o["kind"] for o in before} >= {"Deployment", "Pod", "Service"}
    secrets_before = {s["metadata"]["name"] for s in get_json(k8s, "secrets", "-n", ns)["items"]}
    cli.run("zone", "delete", ZONE, "--yes", "--namespace", ns)

    def gone() -> bool:
        left = get_json(k8s, kinds, "-n", ns, "-l", ZONE_LABEL)["items"]
        return not left and not get_json(k8s, "pods", "-n", ns)["items"] \
            and not get_json(k8s, "secrets", "-n", ns)["items"]

    wait_until(f"every child, pod and Secret of zone {ZONE} gone (Secrets before: {sorted(secrets_before)})",
               gone, timeout=120, interval=0.5)  # fmt: skip
    assert get_json(k8s, "zone.autonomy.computer", ZONE, "-n", ns) is None
