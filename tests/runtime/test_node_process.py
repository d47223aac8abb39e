"""What `Node.start` does to the process it owns: the garbage collector and the open-files limit.

Measured in bench/agents_bench.py: CPython's default GC made full-collection pauses of 100-200 ms the
whole p99 tail of agent calls, and the usual soft limit of 1,024 open files caps a node at ~500
conversations in flight. These run real node processes, since the settings are process-wide.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

PROBE = """
import gc, json, resource
from autonomy import Node

async def main(node):
    print(json.dumps({
        "threshold": gc.get_threshold(),
        "frozen": gc.get_freeze_count(),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
    }), flush=True)

Node.start(main, http_server=False)
"""


def probe(**env: str) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    environment = {
        **os.environ,
        "AUTONOMY_DISCOVERY": "none",
        "AUTONOMY_TRANSPORT_PORT": "0",
        "AUTONOMY_WAIT_UNTIL_INTERRUPTED": "0",
        **env,
    }
    # start the node with a low soft limit, as a fresh login shell would give it
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard)),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_node_start_tunes_the_process_for_serving() -> None:
    seen = probe()
    assert seen["threshold"][0] >= 10_000
    assert seen["frozen"] > 10_000, "start-up objects (imports, the app) should be out of the collector's sight"
    soft, hard = seen["nofile"]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no finite hard limit to raise to")
    assert soft == hard


def test_gc_tuning_can_be_turned_off() -> None:
    seen = probe(AUTONOMY_GC_TUNING="0")
    assert seen["threshold"][0] < 10_000 and seen["frozen"] == 0  # the interpreter's own settings


CHURN = """
import asyncio, collections, gc, json
from autonomy import Node

async def main(node):
    # Calls in flight, as a server holds them: a steady window of live objects, the oldest dying as new
    # ones are born, so that allocations minus deallocations (what CPython counts) stay flat.
    window = collections.deque()
    for _ in range(200):
        for _ in range(500):
            window.append([])
            if len(window) > 50_000:
                window.popleft()
        await asyncio.sleep(0.01)
    young = len(gc.get_objects(0)) + len(gc.get_objects(1))
    print(json.dumps({"young": young, "serving_threshold": gc.get_threshold()}), flush=True)

Node.start(main, http_server=False)
print(json.dumps({"after_threshold": gc.get_threshold()}), flush=True)
"""


def run_churn(**env: str) -> dict:
    environment = {
        **os.environ,
        "AUTONOMY_DISCOVERY": "none",
        "AUTONOMY_TRANSPORT_PORT": "0",
        "AUTONOMY_WAIT_UNTIL_INTERRUPTED": "0",
        **env,
    }
    result = subprocess.run([sys.executable, "-c", CHURN], env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen: dict = {}
    for line in result.stdout.strip().splitlines():
        seen.update(json.loads(line))
    return seen


def test_young_generation_stays_small_while_objects_churn() -> None:
    """The GC pacer's reason to be (bench: 1,000 agent calls in flight): with CPython's count-based
    trigger a churning heap never starts a collection, the young generations grow to every live object,
    and the one that finally runs pauses the node for as long as it takes to walk them all."""
    paced = run_churn()
    assert paced["young"] < 10_000, paced
    unpaced = run_churn(AUTONOMY_GC_TUNING="0")
    assert unpaced["young"] > 40_000, unpaced  # CPython's own trigger, for contrast: all 50,000 stay young
    # the pacer holds the collector only while the node serves, then gives the start-up settings back
    assert paced["serving_threshold"][0] >= 100_000
    assert paced["after_threshold"] == [10_000, 10, 10]


FLOODED = """
import asyncio, threading, time
from autonomy import Node

async def main(node):
    loop = asyncio.get_running_loop()
    # Fill the loop's self-pipe, as thousands of database calls in threads finishing at once do: every
    # call_soon_threadsafe writes a byte there, and so does a signal delivered with loop.add_signal_handler.
    flood = threading.Thread(target=lambda: [loop.call_soon_threadsafe(lambda: None) for _ in range(100_000)])
    flood.start()
    flood.join()
    print("READY", flush=True)
    time.sleep(2)  # the loop stays blocked while SIGTERM arrives, the pipe still full

Node.start(main, http_server=False)
"""


def test_sigterm_stops_a_node_whose_loop_is_flooded() -> None:
    """Measured after 10,000 agent calls at once: the signal's byte was dropped on a full self-pipe and
    the node ignored SIGTERM until killed."""
    import signal
    import time

    environment = {**os.environ, "AUTONOMY_DISCOVERY": "none", "AUTONOMY_TRANSPORT_PORT": "0"}
    process = subprocess.Popen(
        [sys.executable, "-c", FLOODED], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "READY"
        process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        assert process.wait(timeout=20) == 0
        assert time.monotonic() - began < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
