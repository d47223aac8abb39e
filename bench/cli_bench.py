"""CLI benchmarks (issue: the autonomy CLI). Prints a table and writes bench/results/cli.{json,md}.

1. `autonomy zone dev` of examples/fanout: wall time from starting the command to the first HTTP
   answer of GET /fanout that includes all three runner clones (and to the main node's /readyz).
2. `autonomy zone deploy --wait` of examples/fanout against the suite's control plane (built by
   hack/k8s/build.sh; kwok nodes) with the operator running as a process: wall time of the command
   until the Zone is Ready, images excluded (`--skip-build --image NAME=REF`). Goal: <= 10 s.

Usage: python bench/cli_bench.py [--runs N] [--skip-deploy]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from autonomy.cli.dev.plan import free_port as plan_free_port

ROOT = Path(__file__).resolve().parents[1]
AUTONOMY = str(Path(sys.executable).with_name("autonomy"))
FANOUT = ROOT / "examples" / "fanout"
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    return plan_free_port()


def zone_dev_once() -> dict[str, float]:
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen([AUTONOMY, "zone", "dev", "--config", str(FANOUT / "autonomy.yaml"),
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready = fanout = None
    try:
        with httpx.Client(timeout=5) as client:
            while fanout is None and time.monotonic() - started < 60:
                try:
                    if ready is None and client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        ready = time.monotonic() - started
                    response = client.get(f"http://127.0.0.1:{port}/fanout?n=100")
                    if response.status_code == 200 and len(response.json()["runners"]) == 3:
                        fanout = time.monotonic() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
    if fanout is None or ready is None:
        raise RuntimeError("zone dev did not answer within 60 s")
    return {"readyz_s": ready, "first_fanout_s": fanout}


def _controlplane_module() -> Any:
    spec = importlib.util.spec_from_file_location("controlplane", ROOT / "hack" / "k8s" / "controlplane.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["controlplane"] = module
    spec.loader.exec_module(module)
    return module


def deploy_wait_runs(runs: int) -> dict[str, Any]:
    cp = _controlplane_module()
    binaries = cp.Binaries.from_cache()
    workdir = Path(tempfile.mkdtemp(prefix="autonomy-cli-bench-"))
    plane = cp.ControlPlane(workdir=workdir / "k8s", binaries=binaries, nodes=2)
    plane.start()
    operator = None
    try:
        env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig), "AUTONOMY_HOME": str(workdir / "home")}

        def kubectl(*args: str) -> None:
            subprocess.run([str(binaries.kubectl), *args], env=env, check=True, capture_output=True, timeout=60)

        kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
        kubectl("wait", "--for=condition=Established", "crd/zones.autonomy.computer", "--timeout=30s")
        operator = subprocess.Popen([sys.executable, "-m", "autonomy_operator"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, env={**env, "AUTONOMY_OPERATOR_METRICS_PORT": "0",
                                                                    "AUTONOMY_OPERATOR_HEALTH_PORT": "0"})
        subprocess.run([AUTONOMY, "cluster", "enroll", "--no-input"], env=env, check=True, capture_output=True)
        times = []
        for i in range(runs):
            namespace = f"bench-{i}"
            kubectl("create", "namespace", namespace)
            started = time.monotonic()
            result = subprocess.run(
                [AUTONOMY, "zone", "deploy", "--wait", "--timeout", "60", "-n", namespace, "--skip-build",
                 "--image", "main=bench.local/fanout-main:1", "--image", "runner=bench.local/fanout-runner:1"],
                env=env, cwd=FANOUT, capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise RuntimeError(f"zone deploy failed: {result.stderr}")
            times.append(time.monotonic() - started)
        return {"runs_s": times, "median_s": statistics.median(times), "max_s": max(times),
                "goal_s": 10.0, "kubernetes": "suite control plane, kwok (2 nodes)"}
    finally:
        if operator is not None:
            operator.send_signal(signal.SIGTERM)
            operator.wait(20)
        plane.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-deploy", action="store_true")
    args = parser.parse_args()

    dev = [zone_dev_once() for _ in range(args.runs)]
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "note": "2 shared cores; "
                    "other builds may run at the same time"},
        "zone_dev_fanout": {
            "runs": dev,
            "median_first_fanout_s": statistics.median(d["first_fanout_s"] for d in dev),
            "median_readyz_s": statistics.median(d["readyz_s"] for d in dev),
            "max_first_fanout_s": max(d["first_fanout_s"] for d in dev),
        },
    }
    if not args.skip_deploy:
        results["zone_deploy_wait_fanout"] = deploy_wait_runs(args.runs)

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cli.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# CLI benchmarks", "", "| what | median | max | runs |", "|---|---|---|---|"]
    d = results["zone_dev_fanout"]
    lines.append(f"| `zone dev` fanout: command -> first /fanout answer from 3 runners | "
                 f"{d['median_first_fanout_s']:.2f} s | {d['max_first_fanout_s']:.2f} s | {len(dev)} |")
    lines.append(f"| `zone dev` fanout: command -> main /readyz | {d['median_readyz_s']:.2f} s | | {len(dev)} |")
    if "zone_deploy_wait_fanout" in results:
        w = results["zone_deploy_wait_fanout"]
        lines.append(f"| `zone deploy --wait` fanout to Ready (images excluded; goal <= 10 s) | "
                     f"{w['median_s']:.2f} s | {w['max_s']:.2f} s | {len(w['runs_s'])} |")
    lines += ["", f"Machine: {os.cpu_count()} cores shared with other work; Python {platform.python_version()}."]
    (RESULTS / "cli.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
