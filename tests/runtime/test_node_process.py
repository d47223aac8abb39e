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
