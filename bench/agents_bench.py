"""Agents benchmark (issue 5). Prints a table and writes bench/results/agents.{json,md}.

Three processes on loopback:
  - a scripted model: a minimal OpenAI-compatible server that streams a fixed answer at once
    (the model is a stand-in; what is measured is everything the framework adds around it);
  - one node with one agent, serving HTTP;
  - this process: a load generator with N concurrent callers, each holding one conversation and sending
    `POST /agents/bench` one after another.

Figures, for N in the levels given:
  - closed loop: N callers each sending one request after another; throughput, p50, p99, errors;
  - in flight: N callers likewise, but the model holds every answer for a time the caller chose (uniform
    in 0.5-1.5 D s: a real model's reply time, and varied as real ones are), so N conversations are in
    flight together all the time. The caller writes the hold into its message ("hold=1.234"), the model
    reads it from the last one, so each request's added latency is exact: its latency minus its hold;
  - bursts: N requests at once, each on its own connection and conversation (all in flight together);
  - the same N callers straight to the scripted model (one streamed completion each): p50, p99;
  - "added latency" in the closed loop and bursts = agent p50/p99 minus model-only p50/p99 at the same N;
  - memory per idle conversation: node RSS growth over C new conversations of one exchange each.

Usage: python bench/agents_bench.py [--levels 10,100] [--in-flight 1000@2,10000@20] [--bursts 1000,10000] [--seconds 10]
                                   [--conversations 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")
ANSWER = "ok"


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the scripted model -------------------------------------------------------------------------------


def _model_body() -> bytes:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ANSWER}, "finish_reason": None}],
    }
    end = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    return f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode()


def requested_hold(body: bytes) -> float:
    """Seconds the caller asked the model to hold this answer: "hold=S" in the last message, else 0."""
    at = body.rfind(b"hold=")
    if at < 0:
        return 0.0
    end = at + 5
    while end < len(body) and body[end] in b"0123456789.":
        end += 1
    return float(body[at + 5 : end])


async def serve_model(port: int) -> None:
    body = _model_body()
    response = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                hold = requested_hold(await reader.readexactly(length))
                if hold:
                    await asyncio.sleep(hold)
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=20000)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


# -- the node -------------------------------------------------------------------------------------------


def run_node(port: int) -> None:
    from autonomy import Agent, HttpServer, Model, Node

    async def main(node: Any) -> None:
        await Agent.start(node=node, name="bench", instructions="Answer briefly.", model=Model("bench"))
        print("READY", flush=True)

    Node.start(main, http_server=HttpServer(listen_address=f"127.0.0.1:{port}"))


# -- the load generator: plain HTTP/1.1 keep-alive, so the client costs as little as possible ---------


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def load(port: int, path: str, make_body: Any, callers: int, seconds: float, warmup: float) -> dict[str, Any]:
    """`make_body(caller, turn)` gives a request's body and the seconds it asks the model to hold it."""
    latencies: list[float] = []
    added: list[float] = []  # each request's latency minus its model hold
    errors = 0
    warmup_completed = 0
    statuses: dict[int, int] = {}
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def caller(index: int) -> None:
        nonlocal errors, warmup_completed
        connection = Connection(port)
        turn = 0
        try:
            while time.monotonic() < stop_at:
                body, hold = make_body(index, turn)
                began = time.monotonic()
                try:
                    status = await connection.post(path, body)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    connection.close()
                    connection = Connection(port)
                    await asyncio.sleep(0.05)
                    continue
                ended = time.monotonic()
                turn += 1
                if began < measure_from or ended > stop_at:
                    warmup_completed += 1
                else:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        latencies.append(ended - began)
                        added.append(ended - began - hold)
                    else:
                        errors += 1
        finally:
            connection.close()

    # Callers start spread over the warm-up, as real clients would, not in one burst.
    async def staggered(index: int) -> None:
        await asyncio.sleep(warmup * 0.5 * index / callers)
        await caller(index)

    await asyncio.gather(*(staggered(i) for i in range(callers)))
    return {
        "callers": callers,
        "completed": len(latencies),
        "throughput_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "added_p50_ms": round(percentile(added, 50) * 1000, 2),
        "added_p99_ms": round(percentile(added, 99) * 1000, 2),
        "added_max_ms": round(max(added, default=float("nan")) * 1000, 2),
        "errors": errors,
        "statuses": statuses,
        "warmup_completed": warmup_completed,
    }


async def burst(port: int, path: str, make_body: Any, count: int) -> dict[str, Any]:
    """`count` requests at once, each on its own connection (and conversation): all in flight together."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    start = time.monotonic()

    async def one(index: int) -> None:
        nonlocal errors
        connection = Connection(port)
        began = time.monotonic()
        try:
            status = await connection.post(path, make_body(index, 0)[0])
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            return
        finally:
            connection.close()
        statuses[status] = statuses.get(status, 0) + 1
        if status == 200:
            latencies.append(time.monotonic() - began)
        else:
            errors += 1

    await asyncio.gather(*(one(i) for i in range(count)))
    wall = time.monotonic() - start
    return {
        "in_flight": count,
        "completed": len(latencies),
        "wall_s": round(wall, 2),
        "throughput_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "errors": errors,
        "statuses": statuses,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far: a figure the machine's other load does not inflate much."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def node_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def idle_conversations(port: int, pid: int, count: int) -> dict[str, Any]:
    connections = [Connection(port) for _ in range(200)]
    # one exchange first: the node loads the model SDK on its first call, and that is not conversations'
    await connections[0].post("/agents/bench", json.dumps({"message": "hello", "conversation": "warm"}).encode())
    await asyncio.sleep(0.5)
    before = node_rss_kib(pid)

    async def one(i: int) -> None:
        body = json.dumps({"message": "hello", "conversation": f"idle-{i}"}).encode()
        await connections[i % len(connections)].post("/agents/bench", body)

    for batch in range(0, count, len(connections)):
        await asyncio.gather(*(one(i) for i in range(batch, min(count, batch + len(connections)))))
    for connection in connections:
        connection.close()
    await asyncio.sleep(1)
    after = node_rss_kib(pid)
    return {
        "conversations": count,
        "node_rss_before_mib": round(before / 1024, 1),
        "node_rss_after_mib": round(after / 1024, 1),
        "bytes_per_idle_conversation": round((after - before) * 1024 / count),
    }


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, __file__, *args], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY"):
        process.kill()
        raise RuntimeError(f"{args[0]} did not start: {line!r}")
    return process


async def bench(
    levels: list[int],
    in_flight: list[tuple[int, float]],
    bursts: list[int],
    seconds: float,
    conversations: int,
    in_flight_seconds: float,
    gc_baseline: bool = True,
) -> dict[str, Any]:
    raise_fd_limit()
    model_port, node_port = free_port(), free_port()
    env = {
        **os.environ,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
        "OPENAI_API_KEY": "bench",
        "AUTONOMY_DISCOVERY": "none",
        "AUTONOMY_LOG_LEVEL": "WARNING",
        "AUTONOMY_TRANSPORT_PORT": "0",
        "AUTONOMY_MAX_AGENT_REQUESTS": "50000",
    }
    model = start(["model", str(model_port)], env)
    node = start(["node", str(node_port)], env)
    results: dict[str, Any] = {"levels": [], "in_flight": [], "bursts": []}
    try:
        # memory first, on a fresh node, so that heap freed by the load runs does not hide the growth
        results["idle"] = await idle_conversations(node_port, node.pid, conversations)
        print(json.dumps(results["idle"]), flush=True)

        def model_body(message: str) -> bytes:
            messages = [{"role": "user", "content": message}]
            return json.dumps({"model": "bench", "stream": True, "messages": messages}).encode()

        async def compare(
            callers: int, seconds: float, warmup: float, tag: str, hold: Any = None, direct: Any = None
        ) -> dict[str, Any]:
            """The same N closed-loop callers, first straight to the model (unless `direct` has that
            already), then through the agent. `hold(caller, turn)`: seconds the model holds that request
            (the same in both runs); none: 0."""

            def message(index: int, turn: int) -> tuple[str, float]:
                seconds_held = hold(index, turn) if hold is not None else 0.0
                return (f"hello hold={seconds_held:.4f}" if seconds_held else "hello"), seconds_held

            def direct_body(index: int, turn: int) -> tuple[bytes, float]:
                text, seconds_held = message(index, turn)
                return model_body(text), seconds_held

            def agent_body(index: int, turn: int) -> tuple[bytes, float]:
                # each caller keeps its own conversation; it restarts every 20 turns so contexts stay small
                text, seconds_held = message(index, turn)
                conversation = f"{tag}-c{index}-{turn // 20}"
                return json.dumps({"message": text, "conversation": conversation}).encode(), seconds_held

            if direct is None:
                direct = await load(model_port, "/v1/chat/completions", direct_body, callers, seconds, warmup)
            rss_before = node_rss_kib(node.pid)
            rss_samples: list[int] = []

            async def sample_rss() -> None:  # mid-window, with every caller's conversation in flight
                await asyncio.sleep(warmup + seconds / 2)
                rss_samples.append(node_rss_kib(node.pid))

            sampler = asyncio.ensure_future(sample_rss())
            cpu_before = cpu_seconds(node.pid)
            agent = await load(node_port, "/agents/bench", agent_body, callers, seconds, warmup)
            await sampler
            agent["node_rss_mib_before"] = round(rss_before / 1024, 1)
            agent["node_rss_mib_in_flight"] = round(rss_samples[0] / 1024, 1)
            served = agent["completed"] + agent["warmup_completed"]
            agent["node_cpu_ms_per_request"] = round((cpu_seconds(node.pid) - cpu_before) * 1000 / max(1, served), 2)
            if hold is not None:  # exact per request: its latency minus its own hold
                added_p50, added_p99 = agent["added_p50_ms"], agent["added_p99_ms"]
            else:
                added_p50 = round(agent["p50_ms"] - direct["p50_ms"], 2)
                added_p99 = round(agent["p99_ms"] - direct["p99_ms"], 2)
            return {
                "callers": callers,
                "agent": agent,
                "model_only": direct,
                "added_p50_ms": added_p50,
                "added_p99_ms": added_p99,
            }

        for callers in levels:
            level = await compare(callers, seconds, max(2.0, callers / 1000), f"n{callers}")
            results["levels"].append(level)
            print(json.dumps(level), flush=True)
        async def in_flight_run(callers: int, delay: float, direct: Any = None) -> dict[str, Any]:
            # The model holds each answer 0.5-1.5 x `delay` s, as a real one takes its time, so `callers`
            # conversations are in flight together all the time; callers ramp up over the warm-up.
            def hold(index: int, turn: int) -> float:
                return random.Random(index * 100_003 + turn).uniform(0.5 * delay, 1.5 * delay)

            window = max(in_flight_seconds, 5 * delay)
            entry = await compare(callers, window, 2 * delay + 2, f"f{callers}", hold, direct)
            entry["seconds"] = window
            entry["model_delay_s"] = delay
            print(json.dumps(entry), flush=True)
            return entry

        for callers, delay in in_flight:
            results["in_flight"].append(await in_flight_run(callers, delay))
        for count in bursts:
            direct = await burst(model_port, "/v1/chat/completions", lambda i, t: (model_body("hello"), 0.0), count)

            def burst_body(index: int, turn: int, count: int = count) -> tuple[bytes, float]:
                return json.dumps({"message": "hello", "conversation": f"b{count}-{index}"}).encode(), 0.0

            cpu_before = cpu_seconds(node.pid)
            agent = await burst(node_port, "/agents/bench", burst_body, count)
            agent["node_cpu_ms_per_request"] = round((cpu_seconds(node.pid) - cpu_before) * 1000 / max(1, count), 2)
            entry = {
                "in_flight": count,
                "agent": agent,
                "model_only": direct,
                "added_p50_ms": round(agent["p50_ms"] - direct["p50_ms"], 2),
                "added_p99_ms": round(agent["p99_ms"] - direct["p99_ms"], 2),
            }
            results["bursts"].append(entry)
            print(json.dumps(entry), flush=True)
        results["node_rss_end_mib"] = round(node_rss_kib(node.pid) / 1024, 1)
        if gc_baseline and results["in_flight"]:
            # The baseline, in the same run: the first in-flight load again, on a fresh node left with
            # CPython's own garbage collector settings (AUTONOMY_GC_TUNING=0).
            stop(node)
            node = start(["node", str(node_port)], {**env, "AUTONOMY_GC_TUNING": "0"})
            first = results["in_flight"][0]
            results["gc_baseline"] = await in_flight_run(
                first["callers"], first["model_delay_s"], direct=first["model_only"]
            )
    finally:
        for process in (node, model):
            stop(process)
    return results


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(15)
    if process.stdout is not None:
        process.stdout.close()


def write(results: dict[str, Any], seconds: float) -> None:
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()}
    results["seconds_per_level"] = seconds
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "agents.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Agents benchmark",
        "",
        f"One node, one agent, scripted model; {seconds:.0f} s per level (in-flight runs: see their table); "
        f"{os.cpu_count()} CPUs shared by model, node and load generator (load average at the end "
        f"{results['machine']['load_average'][0]:.1f}).",
        "",
        "Closed loop, model answering at once: N callers, each sending its next request as soon as it has an answer.",
        "",
        "| callers in flight | agent req/s | agent p50 ms | agent p99 ms | errors | model-only p50 ms | "
        "model-only p99 ms | added p50 ms | added p99 ms | node CPU ms/request |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in results["levels"]:
        a, m = level["agent"], level["model_only"]
        lines.append(
            f"| {level['callers']} | {a['throughput_per_s']} | {a['p50_ms']} | {a['p99_ms']} | {a['errors']} | "
            f"{m['p50_ms']} | {m['p99_ms']} | {level['added_p50_ms']} | {level['added_p99_ms']} | "
            f"{a['node_cpu_ms_per_request']} |"
        )
    if results.get("in_flight"):
        lines += [
            "",
            "In flight: N callers, each in its own conversation, one request after another, while the model holds "
            "each answer for a time the caller chose, uniform in 0.5-1.5 x D s, so N conversations are in flight "
            "together throughout. Added = each request's latency minus its own hold, so it is exact per request; "
            "the model-only columns are the same callers straight to the model: what loopback and the load "
            "generator add by themselves.",
            "",
            "| in flight | D s | node's GC | measured s | agent req/s | errors | added p50 ms | added p99 ms | "
            "added max ms | "
            "model-only added p50 ms | model-only added p99 ms | node CPU ms/request | "
            "node RSS MiB before -> in flight |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        baseline = results.get("gc_baseline")
        rows = [("paced (default)", entry) for entry in results["in_flight"]]
        if baseline:
            rows.append(("CPython's (AUTONOMY_GC_TUNING=0), same run", baseline))
        for gc_mode, entry in rows:
            a, m = entry["agent"], entry["model_only"]
            lines.append(
                f"| {entry['callers']} | {entry['model_delay_s']} | {gc_mode} | {entry['seconds']:.0f} | "
                f"{a['throughput_per_s']} | {a['errors']} | "
                f"{entry['added_p50_ms']} | {entry['added_p99_ms']} | {a['added_max_ms']} | "
                f"{m['added_p50_ms']} | {m['added_p99_ms']} | {a['node_cpu_ms_per_request']} | "
                f"{a['node_rss_mib_before']} -> {a['node_rss_mib_in_flight']} |"
            )
    if results.get("bursts"):
        lines += [
            "",
            "Bursts: N requests sent at once, each on its own connection and in a new conversation.",
            "",
            "| in flight | completed | errors | wall s | agent req/s | agent p50 ms | agent p99 ms | "
            "model-only p50 ms | model-only p99 ms | added p50 ms | added p99 ms | node CPU ms/request |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for entry in results["bursts"]:
            a, m = entry["agent"], entry["model_only"]
            lines.append(
                f"| {entry['in_flight']} | {a['completed']} | {a['errors']} | {a['wall_s']} | "
                f"{a['throughput_per_s']} | "
                f"{a['p50_ms']} | {a['p99_ms']} | {m['p50_ms']} | {m['p99_ms']} | {entry['added_p50_ms']} | "
                f"{entry['added_p99_ms']} | {a['node_cpu_ms_per_request']} |"
            )
    idle = results.get("idle")
    if idle:
        lines += [
            "",
            f"Memory per idle conversation: {idle['bytes_per_idle_conversation']} bytes "
            f"({idle['conversations']} conversations of one exchange; node RSS "
            f"{idle['node_rss_before_mib']} -> {idle['node_rss_after_mib']} MiB).",
        ]
    (RESULTS / "agents.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "model":
        raise_fd_limit()
        asyncio.run(serve_model(int(sys.argv[2])))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "node":
        raise_fd_limit()
        run_node(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="10,100", help="closed-loop callers per level")
    parser.add_argument(
        "--in-flight",
        default="1000@2,9000@20",
        help="N@D,...: N conversations kept in flight by a model that holds each answer 0.5-1.5 x D seconds "
        "(a node needs two open files per call in flight: 9,000 is what an open-files limit of 20,000 allows)",
    )
    parser.add_argument("--bursts", default="1000,10000", help="requests in flight at once per burst")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--in-flight-seconds",
        type=float,
        default=60,
        help="measured window of each in-flight run: long enough that rare events (a full GC) weigh as they do",
    )
    parser.add_argument("--conversations", type=int, default=10000)
    parser.add_argument(
        "--no-gc-baseline",
        action="store_true",
        help="skip the first in-flight load on a node with CPython's GC settings",
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x]
    bursts = [int(x) for x in args.bursts.split(",") if x]
    in_flight = [(int(n), float(d)) for n, d in (x.split("@") for x in args.in_flight.split(",") if x)]
    results = asyncio.run(
        bench(
            levels, in_flight, bursts, args.seconds, args.conversations, args.in_flight_seconds, not args.no_gc_baseline
        )
    )
    write(results, args.seconds)


if __name__ == "__main__":
    main()
