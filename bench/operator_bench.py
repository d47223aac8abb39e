"""Operator benchmark against the local control plane (hack/k8s): prints figures, writes results.

    .venv/bin/python bench/operator_bench.py [--zones 1000] [--out bench/results]

1. Throughput: N Zones of 2 pods each (a public main-pod and a runner) are created at once; the
   figure is the time until every Zone is Accepted with all its children created (goal <= 60 s
   for 1,000).
2. Idle cost: the operator's CPU (cores, averaged over a window) and RSS with the N Zones
   (goals <= 0.1 core and <= 300 MiB).
3. Restart writes: children (and Zones) whose resourceVersion changed because the operator was
   restarted (goal 0).

The control plane is started here in a temporary directory and stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
KINDS = "deployments,services,ingresses,serviceaccounts,roles,rolebindings,networkpolicies"
CLUSTER = "bench"


def load_controlplane() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_controlplane", REPO / "hack" / "k8s" / "controlplane.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_controlplane"] = module
    spec.loader.exec_module(module)
    return module


class Kubectl:
    def __init__(self, kubeconfig: Path) -> None:
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

    def __call__(self, *args: str, input: str | None = None) -> str:
        return subprocess.run(
            ["kubectl", *args],
            input=input,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self("get", *args, "-o", "json"))


def zone_body(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "autonomy.computer/v1alpha1",
        "kind": "Zone",
        "metadata": {"name": f"z{i}", "namespace": "bench"},
        "spec": {
            "pods": [
                {"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}]},
                {"name": "runner", "containers": [{"name": "main", "image": "runner"}]},
            ]
        },
    }


async def create_zones(kubeconfig: Path, count: int, concurrency: int = 32) -> float:
    """Create the Zones as fast as the API server takes them; returns the seconds it took."""
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        objects = client.CustomObjectsApi(api)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                await objects.create_namespaced_custom_object(
                    "autonomy.computer", "v1alpha1", "bench", "zones", zone_body(i)
                )

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.monotonic() - started


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_operator(
    kubeconfig: Path, log: Path, health_port: int, args: argparse.Namespace
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "AUTONOMY_OPERATOR_CLUSTER": CLUSTER,
        "AUTONOMY_OPERATOR_METRICS_PORT": "0",
        "AUTONOMY_OPERATOR_HEALTH_PORT": str(health_port),
        "AUTONOMY_OPERATOR_WORKERS": str(args.workers),
        "AUTONOMY_OPERATOR_QPS": str(args.qps),
        "AUTONOMY_OPERATOR_BURST": str(args.burst),
        "AUTONOMY_OPERATOR_LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "autonomy_operator"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_healthy(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the operator never became healthy")


def snapshot(kubectl: Kubectl) -> tuple[dict[str, str], dict[str, str]]:
    """What the operator last wrote: per child, the time of its `autonomy-operator` apply entry in
    managedFields (it moves only when an apply changed something; status updates by controllers
    do not touch it); per Zone, its resourceVersion (the operator is the Zone's only writer here)."""
    children = {}
    for item in kubectl.json(KINDS, "-n", "bench", "-l", "autonomy.computer/zone", "--show-managed-fields")[
        "items"
    ]:
        ours = [
            m.get("time")
            for m in item["metadata"].get("managedFields", [])
            if m["manager"] == "autonomy-operator"
        ]
        children[f"{item['kind']}/{item['metadata']['name']}"] = (
            f"{ours}/{item['metadata'].get('generation')}"
        )
    zones = {
        i["metadata"]["name"]: i["metadata"]["resourceVersion"]
        for i in kubectl.json("zones", "-n", "bench")["items"]
    }
    return children, zones


def ready_zones(kubectl: Kubectl) -> int:
    return sum(
        1
        for z in kubectl.json("zones", "-n", "bench")["items"]
        if any(
            c["type"] == "Ready" and c["status"] == "True" for c in z.get("status", {}).get("conditions", [])
        )
    )


def converged(kubectl: Kubectl) -> tuple[int, int, float]:
    """(zones Accepted with their children applied, Deployments that exist, and the wall-clock time
    the last of those happened, from the API server's own timestamps)."""
    zones = kubectl.json("zones", "-n", "bench")["items"]
    stamps: list[str] = []
    accepted = 0
    for zone in zones:
        status = zone.get("status", {})
        condition = next((c for c in status.get("conditions", []) if c["type"] == "Accepted"), None)
        if status.get("appliedHash") and condition and condition["status"] == "True":
            accepted += 1
            stamps.append(condition["lastTransitionTime"])
    deployments = kubectl.json("deployments", "-n", "bench", "-l", "autonomy.computer/zone")["items"]
    stamps += [d["metadata"]["creationTimestamp"] for d in deployments]
    last = max((datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() for s in stamps), default=0.0)
    return accepted, len(deployments), last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=20, help="kwok nodes (110 pods each)")
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--qps", type=float, default=400)
    parser.add_argument("--burst", type=int, default=800)
    parser.add_argument("--idle-window", type=float, default=60)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()

    controlplane = load_controlplane()
    workdir = Path(tempfile.mkdtemp(prefix="operator-bench-"))
    plane = controlplane.ControlPlane(
        workdir=workdir, binaries=controlplane.Binaries.from_cache(), nodes=args.nodes
    )
    plane.start()
    operator: subprocess.Popen[bytes] | None = None
    results: dict[str, Any] = {
        "zones": args.zones,
        "pods_per_zone": 2,
        "settings": {"workers": args.workers, "qps": args.qps, "burst": args.burst, "kwok_nodes": args.nodes},
    }
    try:
        kubectl = Kubectl(plane.kubeconfig)
        kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        kubectl("wait", "--for=condition=Established", "crd/zones.autonomy.computer", "--timeout=30s")
        kubectl("create", "namespace", "bench")
        kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps(
                {
                    "apiVersion": "autonomy.computer/v1alpha1",
                    "kind": "Cluster",
                    "metadata": {"name": CLUSTER},
                    "spec": {"domain": "bench.test"},
                }
            ),
        )
        log = workdir / "operator.log"
        health = 18081
        operator = start_operator(plane.kubeconfig, log, health, args)
        wait_healthy(health)
        while not kubectl.json("clusters.autonomy.computer", CLUSTER).get("status", {}).get("clusterId"):
            time.sleep(0.2)

        # 1. Throughput. Polling is kept sparse (listing 1,000 Zones loads the API server too); the
        # figure comes from the server's timestamps, not from when a poll noticed.
        wall_started = time.time()
        started = time.monotonic()
        results["create_seconds"] = round(asyncio.run(create_zones(plane.kubeconfig, args.zones)), 1)
        cpu_before = process_cpu_seconds(operator.pid)
        progress: list[tuple[float, int, int]] = []
        while True:
            time.sleep(5)
            accepted, deployments, last = converged(kubectl)
            progress.append((round(time.monotonic() - started, 1), accepted, deployments))
            print(f"  t={progress[-1][0]:6.1f} s  accepted={accepted}  deployments={deployments}", flush=True)
            if accepted >= args.zones and deployments >= 2 * args.zones:
                break
            if time.monotonic() - started > 900:
                raise RuntimeError("not converged after 900 s")
        # Server timestamps have 1 s resolution: round up.
        results["all_accepted_seconds"] = float(math.ceil(last - wall_started))
        results["operator_cpu_seconds_during_rollout"] = round(
            process_cpu_seconds(operator.pid) - cpu_before, 1
        )
        results["progress"] = progress[:: max(1, len(progress) // 20)]
        children, _ = snapshot(kubectl)
        results["children"] = len(children)

        # 2. Idle: wait until every pod runs (the controller-manager creates 2,000 pods at its own
        # pace) and the status updates have settled, then measure over a window.
        ready_started = time.monotonic()
        while (ready := ready_zones(kubectl)) < args.zones and time.monotonic() - ready_started < 900:
            print(f"  waiting for pods: {ready} zones Ready", flush=True)
            time.sleep(10)
        results["all_ready_seconds"] = round(time.monotonic() - started, 1)
        time.sleep(15)
        cpu0, t0 = process_cpu_seconds(operator.pid), time.monotonic()
        time.sleep(args.idle_window)
        results["idle_cpu_cores"] = round(
            (process_cpu_seconds(operator.pid) - cpu0) / (time.monotonic() - t0), 4
        )
        results["idle_rss_mib"] = round(process_rss_mib(operator.pid), 1)

        # 3. Restart writes.
        children_before, zones_before = snapshot(kubectl)
        operator.terminate()
        operator.wait(30)
        restart_started = time.monotonic()
        operator = start_operator(plane.kubeconfig, log, health, args)
        wait_healthy(health)
        time.sleep(30)
        children_after, zones_after = snapshot(kubectl)
        results["restart_child_writes"] = sum(
            1 for k, v in children_after.items() if children_before.get(k) != v
        ) + len(set(children_before) - set(children_after))
        results["restart_zone_writes"] = sum(1 for k, v in zones_after.items() if zones_before.get(k) != v)
        results["restart_observed_seconds"] = round(time.monotonic() - restart_started, 1)
        results["restart_rss_mib"] = round(process_rss_mib(operator.pid), 1)
    finally:
        if operator is not None and operator.poll() is None:
            operator.terminate()
            operator.wait(30)
        plane.stop()

    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kubernetes": controlplane.read_versions()["K8S_VERSION"],
    }
    results["goals"] = {
        "all_accepted_seconds": 60,
        "idle_cpu_cores": 0.1,
        "idle_rss_mib": 300,
        "restart_child_writes": 0,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "operator_bench.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Operator benchmark",
        "",
        f"{args.zones} Zones of 2 pods, local control plane (Kubernetes {results['machine']['kubernetes']}, "
        f"kwok, {results['machine']['cpus']} cores shared), operator workers={args.workers} qps={args.qps} "
        f"burst={args.burst}.",
        "",
        "| figure | result | goal |",
        "|---|---|---|",
        f"| create {args.zones} Zones (client side) | {results['create_seconds']} s | |",
        f"| all Zones Accepted with children | {results['all_accepted_seconds']} s | <= 60 s |",
        f"| children created | {results['children']} | |",
        f"| all Zones Ready (every pod Running under kwok) | {results['all_ready_seconds']} s | |",
        f"| operator CPU idle | {results['idle_cpu_cores']} cores | <= 0.1 |",
        f"| operator RSS idle | {results['idle_rss_mib']} MiB | <= 300 MiB |",
        f"| child writes caused by a restart | {results['restart_child_writes']} | 0 |",
        f"| Zone writes caused by a restart | {results['restart_zone_writes']} | |",
        f"| operator RSS after the restart | {results['restart_rss_mib']} MiB | |",
    ]
    (args.out / "operator_bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
