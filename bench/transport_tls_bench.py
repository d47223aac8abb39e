"""What mutual TLS costs the transport: the same two-process measurements with TLS and in plaintext, in the
same run, interleaved (the machine is shared; rounds alternate so drift hits both alike).

  one-way msg/s       1,000,000 100-byte `tell`s to a peer process (best and median of the rounds)
  request/reply       p50 and p99 of one outstanding `send_and_receive`
  link set-up         dial, TLS handshake, Hello both ways: a fresh node's first link to the peer (p50, p99)

Plaintext exists here only: `PlaintextNode` swaps in a transport built with `PlaintextForBenchmarks()`,
which no setting or environment variable of a node can reach.

Goal (issue 16): at most 10 % fewer msg/s and at most +30 us at p50 with TLS.

Usage: python bench/transport_tls_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
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
from runtime_bench import Echo, Sink, one_way_throughput, request_latency

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


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def run(quick: bool) -> dict[str, Any]:
    scale = 10 if quick else 1
    rounds = 2 if quick else 3
    work = Path(tempfile.mkdtemp(prefix="autonomy-tls-bench-"))
    create_dev_authority(work / "ca", "local", "local", "bench")
    env = {"AUTONOMY_DISCOVERY": "local", "AUTONOMY_REGISTRY_DIR": str(work / "registry"), "ZONE": "bench",
           "AUTONOMY_TRANSPORT_PORT": "0", "AUTONOMY_LOG_LEVEL": "WARNING", "AUTONOMY_DEV_CA_DIR": str(work / "ca")}
    os.environ.update(env)
    peers = {mode: spawn(mode, dict(os.environ)) for mode in MODES}
    one_way: dict[str, list[float]] = {mode: [] for mode in MODES}
    latency: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    setup: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        for _ in range(rounds):
            for mode in MODES:
                async with node_class(mode).serve(name=f"driver-{mode}", http_server=False) as node:
                    one_way[mode].append(await one_way_throughput(node, f"peer-{mode}", 1_000_000 // scale))
                    p50, p99, _ = await request_latency(node, f"peer-{mode}", 20_000 // scale)
                    latency[mode].append((p50, p99))
                setup[mode] += await link_setup(mode, 100 // scale)
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
            "request_reply_p50_us": round(statistics.median(p for p, _ in latency[mode]), 1),
            "request_reply_p99_us": round(statistics.median(p for _, p in latency[mode]), 1),
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
        "request_reply_p99_added_us": round(tls["request_reply_p99_us"] - plain["request_reply_p99_us"], 1),
        "link_setup_p50_added_ms": round(tls["link_setup_p50_ms"] - plain["link_setup_p50_ms"], 2),
    }
    change = results["tls_vs_plaintext"]
    results["goals"] = {
        "at_most_10_percent_fewer_msgs_per_s": change["one_way_median_change_percent"] >= -10,
        "at_most_30_us_added_at_p50": change["request_reply_p50_added_us"] <= 30,
    }
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "grpcio": grpc.__version__,
                          "rounds": rounds, "quick": quick, "date": time.strftime("%Y-%m-%d"),
                          "load_average": [round(x, 1) for x in os.getloadavg()]}
    return results


def report(results: dict[str, Any]) -> str:
    plain, tls, change = results["plaintext"], results["tls"], results["tls_vs_plaintext"]
    lines = ["| measure | plaintext | mutual TLS | change |", "|---|---|---|---|"]
    rows = [
        ("one-way msg/s, best", "one_way_msgs_per_s_best", f"{change['one_way_best_change_percent']:+.1f} %"),
        ("one-way msg/s, median", "one_way_msgs_per_s_median", f"{change['one_way_median_change_percent']:+.1f} %"),
        ("request/reply p50 (us)", "request_reply_p50_us", f"{change['request_reply_p50_added_us']:+.1f} us"),
        ("request/reply p99 (us)", "request_reply_p99_us", f"{change['request_reply_p99_added_us']:+.1f} us"),
        ("link set-up p50 (ms)", "link_setup_p50_ms", f"{change['link_setup_p50_added_ms']:+.2f} ms"),
        ("link set-up p99 (ms)", "link_setup_p99_ms", ""),
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
