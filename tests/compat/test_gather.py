"""`gather(*aws, batch_size=None)` as upstream's: results in order, at most `batch_size` at once, the first
error raised while the rest carry on; and a fan-out app that uses it as upstream's code-review example."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from autonomy import gather
from tests.compat.conftest import APPS
from tests.support.scripted_llm import Reply, Script, last_text


class Probe:
    """Coroutines that record how many of them run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.finished: list[int] = []

    async def job(self, n: int, seconds: float = 0.02, fail: bool = False) -> int:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(seconds)
            if fail:
                raise RuntimeError(f"job {n} failed")
            self.finished.append(n)
            return n * n
        finally:
            self.running -= 1


@pytest.mark.parametrize("batch_size", [None, 0])
async def test_without_a_batch_size_everything_runs_at_once(batch_size: int | None) -> None:
    probe = Probe()
    assert await gather(*(probe.job(n) for n in range(20)), batch_size=batch_size) == [n * n for n in range(20)]
    assert probe.most == 20


@pytest.mark.parametrize("batch_size", [1, 3, 7, 50])
async def test_a_batch_size_caps_how_many_run_at_once_and_keeps_the_order(batch_size: int) -> None:
    probe = Probe()
    # Later jobs are quicker, so they finish out of order: the results must still follow the arguments.
    jobs = [probe.job(n, seconds=0.002 * (20 - n)) for n in range(20)]
    assert await gather(*jobs, batch_size=batch_size) == [n * n for n in range(20)]
    assert probe.most == min(batch_size, 20)


async def test_futures_and_tasks_are_awaited_too() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()
    loop.call_later(0.01, future.set_result, "done")
    task = asyncio.ensure_future(asyncio.sleep(0.01, result="slept"))
    assert await gather(future, task, batch_size=1) == ["done", "slept"]
    assert await gather() == []
    assert await gather(batch_size=4) == []


@pytest.mark.parametrize("batch_size", [None, 2])
async def test_the_first_error_is_raised_and_the_others_carry_on(batch_size: int | None) -> None:
    probe = Probe()
    jobs = [probe.job(0, 0.01, fail=True), *(probe.job(n, 0.03) for n in range(1, 6))]
    with pytest.raises(RuntimeError, match="job 0 failed"):
        await gather(*jobs, batch_size=batch_size)
    # As asyncio.gather without return_exceptions: nothing is cancelled, the queued jobs still run.
    await asyncio.sleep(0.3)
    assert sorted(probe.finished) == [1, 2, 3, 4, 5]


async def test_cancelling_the_gather_cancels_every_job() -> None:
    probe = Probe()
    outer = asyncio.ensure_future(gather(*(probe.job(n, 10) for n in range(6)), batch_size=2))
    await asyncio.sleep(0.05)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    await asyncio.sleep(0.05)
    assert probe.running == 0 and probe.finished == []


@pytest.mark.parametrize(("batch_size", "most"), [(2.5, 3), (0.5, 1), (len(range(12)) / 4, 3)])
async def test_a_fractional_batch_size_rounds_up_as_upstreams_semaphore_does(batch_size: float, most: int) -> None:
    probe = Probe()
    assert await gather(*(probe.job(n) for n in range(12)), batch_size=batch_size) == [n * n for n in range(12)]
    assert probe.most == most


@pytest.mark.parametrize(("batch_size", "error", "message"), [
    (-1, ValueError, r"batch_size=-1\): batch_size must be >= 1, or None"),
    (float("nan"), ValueError, r"batch_size=nan\): batch_size must be >= 1"),
    ("5", TypeError, r"batch_size='5'\): batch_size must be a number or None"),
    (True, TypeError, "batch_size must be a number"),
])
async def test_a_bad_batch_size_is_named(batch_size: object, error: type[Exception], message: str) -> None:
    job = asyncio.sleep(0)
    with pytest.raises(error, match=message):
        await gather(job, batch_size=batch_size)  # type: ignore[arg-type]
    assert job.cr_frame is None  # closed by gather: it will never run, and does not warn


def test_a_fan_out_over_agents_in_batches_of_five(script: Script, app_env: dict[str, str]) -> None:
    script.responder = lambda body: Reply(text="YES " + last_text(body).removeprefix("Filename: "), delay=0.05)
    env = {**app_env, "AUTONOMY_WAIT_UNTIL_INTERRUPTED": "0"}
    done = subprocess.run([sys.executable, str(APPS / "fanout_gather.py")], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    report = json.loads(line.removeprefix("RESULT "))
    files = [f"module_{i:02d}.py" for i in range(12)]
    assert report["results"] == [{"file": f, "analysis": f"YES {f}"} for f in files]
    assert report["most_in_flight"] == 5
    assert report["agents_left"] == []
    assert len(script.requests) == 12
