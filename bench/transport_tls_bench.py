"""What mutual TLS costs the transport: the same two-process measurements with TLS and in plaintext, in the
same run, interleaved (the machine is shared; rounds alternate so drift hits both alike).

  one-way msg/s       400,000 100-byte `tell`s to a peer process per round (best and median of 8 rounds)
  request/reply       p50 and p99 of one outstanding `send_and_receive` (40,000 samples, in alternating
                      batches of 1,000), and the best batch's p50
  link set-up         dial, TLS handshake, Hello both ways: a fresh node's first link to the peer (p50, p99)
  CPU                 CPU time of both processes per message and per request/reply (on a shared machine
                      the steadiest figure: waiting for a core does not count)

Plaintext exists here only: `PlaintextNode` swaps in a transport built with `PlaintextForBenchmarks()`,
which no setting or environment variable of a node can reach.

Goal (issue 16): at most 10 % fewer msg/s and at most +30 us at p50 with TLS.

Usage: python bench/transport_tls_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from runtime_bench import BODY, Echo, Sink, one_way_throughput, request_latency

from autonomy import Node
from autonomy.identity.dev_authority import create_dev_authority
from autonomy.transport import GrpcTransport, Identity, TransportSettings
from autonomy.transport.tls import PlaintextForBenchmarks

RESULTS = Path(__file__).with_name("results")
MODES = ("plaintext", "tls")


class PlaintextNode(Node):
    """A node whose links are plaintext: for this comparison only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.settings
        self._transport = GrpcTransport(
            Identity(self.workload, s.pod), TransportSettings(host=s.transport_host, port=s.transport_port),
            on_envelopes=self._on_envelopes, on_peer_down=self._on_peer_down, resolve=self._resolve,
            tls=PlaintextForBenchmarks(),
        )


def node_class(mode: str) -> type[Node]:
    return PlaintextNode if mode == "plaintext" else Node


async def serve_peer(mode: str) -> None:
    async with node_class(mode).serve(name=f"peer-{mode}", http_server=False) as node:
        await node.start_worker("sink", Sink(), mailbox_size=10_000_000)
        await node.start_worker("echo", Echo())
        print("READY", flush=True)
        await node.interrupted()


async def link_setup(mode: str, count: int) -> list[float]:
    """Seconds from a fresh node's first `link()` to the peer until the link is up, `count` times."""
    samples = []
    for i in range(count):
        async with node_class(mode).serve(name=f"setup-{mode}-{i}", http_server=False) as node:
            await node._discovery.resolve(f"peer-{mode}")  # discovery warm: only the link is timed
            started = time.perf_counter()
            await node._transport.link(f"peer-{mode}")
            samples.append(time.perf_counter() - started)
    return samples


def spawn(mode: str, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, __file__, "--serve", mode], env=env, stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    if not process.stdout.readline().startswith("READY"):
        process.kill()
        raise RuntimeError(f"the {mode} peer failed to start")
    return process


def process_cpu(pid: int) -> float:
    """CPU seconds a process has used, all its threads (gRPC's included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by this process and one peer process, over the blocks measured with it: on a
    shared machine, what a message costs in CPU is steadier than how long it waits for a core."""

    def __init__(self, peer_pid: int) -> None:
        self.peer_pid = peer_pid
        self.seconds = 0.0
        self.units = 0

    @contextlib.contextmanager
    def measure(self, units: int) -> Any:
        before = time.process_time(), process_cpu(self.peer_pid)
        yield
        self.seconds += time.process_time() - before[0] + process_cpu(self.peer_pid) - before[1]
        self.units += units

    @property
    def us_per_unit(self) -> float:
        return self.seconds / max(1, self.units) * 1e6


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def latency_samples(node: Node, peer: str, count: int) -> list[float]:
    clock = time.perf_counter
    samples = []
    for _ in range(count):
        t0 = clock()
        await node.send_and_receive("echo", BODY, node=peer, timeout=10)
        samples.append(clock() - t0)
    return samples


async def run(quick: bool) -> dict[str, Any]:
    scale = 10 if quick else 1
    rounds = 3 if quick else 8
    work = Path(tempfile.mkdtemp(prefix="autonomy-tls-bench-"))
    create_dev_authority(work / "ca", "local", "local", "bench")
    env = {"AUTONOMY_DISCOVERY": "local", "AUTONOMY_REGISTRY_DIR": str(work / "registry"), "ZONE": "bench",
           "AUTONOMY_TRANSPORT_PORT": "0", "AUTONOMY_LOG_LEVEL": "WARNING", "AUTONOMY_DEV_CA_DIR": str(work / "ca")}
    os.environ.update(env)
    peers = {mode: spawn(mode, dict(os.environ)) for mode in MODES}
    one_way: dict[str, list[float]] = {mode: [] for mode in MODES}
    latency: dict[str, list[float]] = {mode: [] for mode in MODES}
    latency_p50s: dict[str, list[float]] = {mode: [] for mode in MODES}
    setup: dict[str, list[float]] = {mode: [] for mode in MODES}
    one_way_cpu = {mode: CpuMeter(peers[mode].pid) for mode in MODES}
    request_cpu = {mode: CpuMeter(peers[mode].pid) for mode in MODES}
    try:
        async with contextlib.AsyncExitStack() as stack:
            drivers = {mode: await stack.enter_async_context(
                node_class(mode).serve(name=f"driver-{mode}", http_server=False)) for mode in MODES}
            for mode, node in drivers.items():
                await request_latency(node, f"peer-{mode}", 200)  # links up, both sides warm
            # Rounds alternate the modes, and within a round latency batches alternate too: the machine is
            # shared, and whatever else runs on it then weighs on both modes alike.
            for _ in range(rounds):
                for mode in MODES:
                    with one_way_cpu[mode].measure(400_000 // scale):
                        one_way[mode].append(await one_way_throughput(drivers[mode], f"peer-{mode}",
                                                                      400_000 // scale))
                for _ in range(5):
                    for mode in MODES:
                        with request_cpu[mode].measure(1_000 // scale):
                            batch = await latency_samples(drivers[mode], f"peer-{mode}", 1_000 // scale)
                        latency[mode] += batch
                        latency_p50s[mode].append(percentile(batch, 0.5))
                for mode in MODES:
                    setup[mode] += await link_setup(mode, 20 // scale or 2)
    finally:
        for process in peers.values():
            process.terminate()
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()
    results: dict[str, Any] = {}
    for mode in MODES:
        results[mode] = {
            "one_way_msgs_per_s_best": round(max(one_way[mode])),
            "one_way_msgs_per_s_median": round(statistics.median(one_way[mode])),
            "one_way_runs": [round(r) for r in one_way[mode]],
            "request_reply_p50_us": round(percentile(latency[mode], 0.5) * 1e6, 1),
            "request_reply_p99_us": round(percentile(latency[mode], 0.99) * 1e6, 1),
            "request_reply_best_batch_p50_us": round(min(latency_p50s[mode]) * 1e6, 1),
            "cpu_us_per_one_way_msg_both_ends": round(one_way_cpu[mode].us_per_unit, 2),
            "cpu_us_per_request_reply_both_ends": round(request_cpu[mode].us_per_unit, 1),
            "link_setup_p50_ms": round(percentile(setup[mode], 0.5) * 1e3, 2),
            "link_setup_p99_ms": round(percentile(setup[mode], 0.99) * 1e3, 2),
        }
    plain, tls = results["plaintext"], results["tls"]
    results["tls_vs_plaintext"] = {
        "one_way_best_change_percent": round(100 * (tls["one_way_msgs_per_s_best"] /
                                                    plain["one_way_msgs_per_s_best"] - 1), 1),
        "one_way_median_change_percent": round(100 * (tls["one_way_msgs_per_s_median"] /
                                                      plain["one_way_msgs_per_s_median"] - 1), 1),
        "request_reply_p50_added_us": round(tls["request_reply_p50_us"] - plain["request_reply_p50_us"], 1),
        "request_reply_best_batch_p50_added_us": round(tls["request_reply_best_batch_p50_us"] -
                                                       plain["request_reply_best_batch_p50_us"], 1),
        "request_reply_p99_added_us": round(tls["request_reply_p99_us"] - plain["request_reply_p99_us"], 1),
        "link_setup_p50_added_ms": round(tls["link_setup_p50_ms"] - plain["link_setup_p50_ms"], 2),
        "cpu_per_one_way_msg_change_percent": round(100 * (tls["cpu_us_per_one_way_msg_both_ends"] /
                                                           plain["cpu_us_per_one_way_msg_both_ends"] - 1), 1),
        "cpu_per_request_reply_added_us": round(tls["cpu_us_per_request_reply_both_ends"] -
                                                plain["cpu_us_per_request_reply_both_ends"], 1),
    }
    change = results["tls_vs_plaintext"]
    results["goals"] = {
        "at_most_10_percent_fewer_msgs_per_s": change["one_way_best_change_percent"] >= -10,
        "at_most_30_us_added_at_p50": change["request_reply_p50_added_us"] <= 30,
    }
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "grpcio": grpc.__version__,
                          "rounds": rounds, "quick": quick, "date": time.strftime("%Y-%m-%d"),
                          "load_average_at_end": [round(x, 1) for x in os.getloadavg()]}
    return results


def report(results: dict[str, Any]) -> str:
    plain, tls, change = results["plaintext"], results["tls"], results["tls_vs_plaintext"]
    lines = ["| measure | plaintext | mutual TLS | change |", "|---|---|---|---|"]
    rows = [
        ("one-way msg/s, best", "one_way_msgs_per_s_best", f"{change['one_way_best_change_percent']:+.1f} %"),
        ("one-way msg/s, median", "one_way_msgs_per_s_median", f"{change['one_way_median_change_percent']:+.1f} %"),
        ("request/reply p50 (us)", "request_reply_p50_us", f"{change['request_reply_p50_added_us']:+.1f} us"),
        ("request/reply p50, best batch (us)", "request_reply_best_batch_p50_us",
         f"{change['request_reply_best_batch_p50_added_us']:+.1f} us"),
        ("request/reply p99 (us)", "request_reply_p99_us", f"{change['request_reply_p99_added_us']:+.1f} us"),
        ("link set-up p50 (ms)", "link_setup_p50_ms", f"{change['link_setup_p50_added_ms']:+.2f} ms"),
        ("link set-up p99 (ms)", "link_setup_p99_ms", ""),
        ("CPU per one-way msg, both ends (us)", "cpu_us_per_one_way_msg_both_ends",
         f"{change['cpu_per_one_way_msg_change_percent']:+.1f} %"),
        ("CPU per request/reply, both ends (us)", "cpu_us_per_request_reply_both_ends",
         f"{change['cpu_per_request_reply_added_us']:+.1f} us"),
    ]
    for label, key, delta in rows:
        lines.append(f"| {label} | {plain[key]:,} | {tls[key]:,} | {delta} |")
    goals = ", ".join(f"{goal}: {'met' if ok else 'NOT met'}" for goal, ok in results["goals"].items())
    return "\n".join(lines) + f"\n\nGoals: {goals}."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages (a smoke run)")
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve_peer(args.serve))
        return
    results = asyncio.run(run(args.quick))
    table = report(results)
    print(table)
    print(json.dumps(results["machine"]))
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "transport_tls.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "transport_tls.md").write_text("# Transport: mutual TLS against plaintext\n\n" + table + "\n\n"
                                                  + json.dumps(results["machine"]) + "\n")


if __name__ == "__main__":
    main()
