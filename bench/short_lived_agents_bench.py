"""Thousands of short-lived agents (issue 15), the pattern of upstream's distributed examples.

A zone run by `autonomy zone dev` (real node processes, found by local discovery, linked as zone dev links
them): a main node and 3 runner clones. The main node ships a worker to each runner; the worker, per item,
starts an agent (`Agent.start`), sends it the item (`send_message`), collects the answer
(`receive_message`) and stops the agent (`Agent.stop`), 25 items at a time with `gather(batch_size=25)`.
The model is the scripted OpenAI-compatible server of tests/support, answering at once.

Reported per count of agents (split evenly over the runners): the wall time from the main node's view and
each runner's, agents per second, the model calls' retries and timeouts the runners logged (none is
expected against an instant model), errors, agents left running afterwards, and each runner's resident
memory before the first run, after each run's agents stopped, and its peak.

Usage: python bench/short_lived_agents_bench.py [--counts 1000,5000,10000] [--runners 3] [--batch-size 25]
Writes bench/results/short_lived_agents.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
AUTONOMY = str(Path(sys.executable).with_name("autonomy"))

ZONE_YAML = """name: shortlived
pods:
  - name: main-pod
    public: true
    containers:
      - name: main
        image: main
  - name: runner-pod
    clones: {runners}
    containers:
      - name: runner
        image: runner
"""

DOCKERFILE = """ARG NODE_IMAGE=autonomy/node:0.1.0
FROM ${NODE_IMAGE}
COPY . .
ENTRYPOINT ["python", "main.py"]
"""

RUNNER_MAIN = """from autonomy import Node

Node.start()
"""

# The app: written as upstream's code-review example is (a worker class shipped to each runner).
MAIN = '''
import asyncio
import gc
import json
import logging
import os
import sys
import time
import uuid

from autonomy import HttpServer, Node, NodeDep, Zone
from fastapi import FastAPI


class ShortLivedAgents:
    """On a runner: one agent per item, started, asked, answered and stopped, in batches."""

    async def handle_message(self, context, message):
        import gc
        import logging

        from autonomy import Agent, Model, gather

        spec = json.loads(message)

        class Counter(logging.Handler):
            def __init__(self):
                super().__init__(logging.WARNING)
                self.retries = 0
                self.timeouts = 0

            def emit(self, record):
                text = record.getMessage()
                if "retry" in text:
                    self.retries += 1
                if "Timeout" in text or "timed out" in text:
                    self.timeouts += 1

        counter = Counter()
        logging.getLogger("autonomy").addHandler(counter)

        def rss():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

        async def one(i):
            agent = await Agent.start(node=self.node, instructions="Answer with one word.",
                                      model=Model("bench-model"), max_iterations=5, timeout=30.0)
            try:
                receiver = await agent.send_message(f"item {i}")
                answer = await receiver.receive_message(timeout=120)
                return answer[-1].content.text
            finally:
                await Agent.stop(self.node, agent.name, timeout=10.0)

        gc.collect()
        before = rss()
        blocks_before = sys.getallocatedblocks()
        cpu_began = time.process_time()
        began = time.monotonic()
        errors = 0
        answers = []
        try:
            answers = await gather(*(one(i) for i in range(spec["count"])), batch_size=spec["batch_size"])
        except Exception as error:
            errors += 1
            answers = [repr(error)]
        elapsed = time.monotonic() - began
        cpu = time.process_time() - cpu_began
        logging.getLogger("autonomy").removeHandler(counter)
        peak = rss()
        await asyncio.sleep(0.5)
        gc.collect()
        left = [a for a in await self.node.list_agents()]
        reply = {
            "node": os.environ.get("NODE"), "count": spec["count"], "seconds": round(elapsed, 3),
            "answered": sum(1 for a in answers if a == "ok"), "errors": errors,
            "retries": counter.retries, "timeouts": counter.timeouts, "agents_left": len(left),
            "rss_kib_before": before, "rss_kib_at_end": peak, "rss_kib_after": rss(),
            "python_blocks_before": blocks_before, "python_blocks_after": sys.getallocatedblocks(),
            "cpu_seconds": round(cpu, 2),
        }
        await context.reply(json.dumps(reply))


app = FastAPI()


@app.get("/runners")
async def runners(node: NodeDep):
    return {"runners": sorted(r.name for r in await Zone.nodes(node, filter="runner"))}


@app.get("/run")
async def run(node: NodeDep, count: int, batch_size: int = 25):
    runners = sorted(await Zone.nodes(node, filter="runner"), key=lambda r: r.name)
    shares = [count // len(runners) + (1 if i < count % len(runners) else 0) for i in range(len(runners))]
    name = f"shortlived-{uuid.uuid4().hex[:8]}"

    async def on(runner, share):
        await runner.start_worker(name, ShortLivedAgents())
        try:
            spec = json.dumps({"count": share, "batch_size": batch_size})
            return json.loads(await runner.send_and_receive(name, spec, timeout=900))
        finally:
            await runner.stop_worker(name)

    began = time.monotonic()
    results = await asyncio.gather(*(on(r, s) for r, s in zip(runners, shares)))
    return {"count": count, "seconds": round(time.monotonic() - began, 3), "runners": results}


Node.start(http_server=HttpServer(app=app))
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_zone(folder: Path, runners: int) -> Path:
    for image, main in (("main", MAIN), ("runner", RUNNER_MAIN)):
        (folder / "images" / image).mkdir(parents=True)
        (folder / "images" / image / "main.py").write_text(main)
        (folder / "images" / image / "Dockerfile").write_text(DOCKERFILE)
    config = folder / "autonomy.yaml"
    config.write_text(ZONE_YAML.format(runners=runners))
    return config


def wait_for(url: str, accept: Any, timeout: float, process: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"zone dev exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            response = httpx.get(url, timeout=10)
            last = response.text
            value = accept(response)
            if value:
                return value
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready in {timeout} s; last {last}\n{log.read_text()[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1000,5000,10000")
    parser.add_argument("--runners", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--output", default=str(RESULTS / "short_lived_agents.json"))
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]

    work = Path(tempfile.mkdtemp(prefix="shortlived-bench-"))
    model_port, http_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    model = subprocess.Popen(
        [sys.executable, "-m", "tests.support.scripted_llm", "--port", str(model_port)], cwd=ROOT, env=env
    )
    log = work / "zone-dev.log"
    config = write_zone(work / "zone", args.runners)
    settings = {
        "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
        "OPENAI_API_KEY": "bench",
        "AUTONOMY_MODEL_PROVIDER": "openai",
        "AUTONOMY_LOG_LEVEL": "WARNING",
    }
    extra = [item for key, value in settings.items() for item in ("-e", f"{key}={value}")]
    with log.open("wb") as out:
        zone = subprocess.Popen(
            [AUTONOMY, "zone", "dev", "--config", str(config), "--port", str(http_port), *extra],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
    base = f"http://127.0.0.1:{http_port}"
    runs: list[dict[str, Any]] = []
    try:
        wait_for(
            f"{base}/runners",
            lambda r: r.status_code == 200 and len(r.json()["runners"]) == args.runners,
            120, zone, log,
        )
        httpx.get(f"{base}/run", params={"count": 60, "batch_size": args.batch_size}, timeout=300)  # warm-up
        for count in counts:
            model_cpu = cpu_seconds(model.pid)
            response = httpx.get(f"{base}/run", params={"count": count, "batch_size": args.batch_size}, timeout=1200)
            response.raise_for_status()
            result = response.json()
            result["agents_per_second"] = round(count / result["seconds"], 1)
            result["model_server_cpu_seconds"] = round(cpu_seconds(model.pid) - model_cpu, 2)
            result["load_average_1m"] = os.getloadavg()[0]
            runs.append(result)
            rs = result["runners"]
            print(
                f"{count:>6} agents over {len(rs)} runners: {result['seconds']:6.2f} s "
                f"({result['agents_per_second']:.0f}/s), answered {sum(r['answered'] for r in rs)}, "
                f"retries {sum(r['retries'] for r in rs)}, timeouts {sum(r['timeouts'] for r in rs)}, "
                f"left {sum(r['agents_left'] for r in rs)}, CPU s runners {sum(r['cpu_seconds'] for r in rs):.1f} "
                f"model {result['model_server_cpu_seconds']:.1f}, load {result['load_average_1m']:.1f}, "
                f"runner RSS MiB before/end/after "
                + ", ".join(
                    f"{r['rss_kib_before'] // 1024}/{r['rss_kib_at_end'] // 1024}/{r['rss_kib_after'] // 1024}"
                    for r in rs
                ),
                flush=True,
            )
    finally:
        zone.send_signal(2)
        try:
            zone.wait(30)
        except subprocess.TimeoutExpired:
            zone.kill()
        model.terminate()
        model.wait(10)
    report = {
        "benchmark": "short_lived_agents",
        "shape": f"autonomy zone dev: main + {args.runners} runner processes; per item Agent.start, send_message, "
        f"receive_message, Agent.stop; gather batch_size={args.batch_size}; scripted model answering at once",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "runs": runs,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    if os.environ.get("BENCH_KEEP"):
        print(f"zone dev's output: {log}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
