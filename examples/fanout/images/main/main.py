"""The main node of the fan-out example.

GET /fanout?n=N splits the numbers 1..N over every runner node of the zone, ships a worker to each
runner (the worker object travels, the runner needs only the framework), gathers the partial results
and answers with what each runner computed. No model needed: it runs anywhere.
"""

import asyncio
import json
import os
import uuid

from autonomy import HttpServer, Node, NodeDep, Zone
from fastapi import FastAPI, HTTPException


class SquareSummer:
    """Sums the squares of the numbers it is sent; says which node did the work."""

    async def handle_message(self, context, message):
        numbers = json.loads(message)
        result = {
            "node": os.environ.get("NODE", "?"),
            "pod": os.environ.get("POD", "?"),
            "count": len(numbers),
            "sum_of_squares": sum(n * n for n in numbers),
        }
        await context.reply(json.dumps(result))


app = FastAPI()


@app.get("/fanout")
async def fanout(node: NodeDep, n: int = 1000):
    if n < 1 or n > 10_000_000:
        raise HTTPException(status_code=422, detail="n must be between 1 and 10000000")
    runners = await Zone.nodes(node, filter="runner")
    if not runners:
        raise HTTPException(status_code=503, detail="no runner nodes yet; try again in a moment")
    runners.sort(key=lambda r: r.name)
    numbers = list(range(1, n + 1))
    chunks = [numbers[i :: len(runners)] for i in range(len(runners))]
    worker = f"squares-{uuid.uuid4().hex[:8]}"

    async def run_on(runner, chunk):
        await runner.start_worker(worker, SquareSummer())
        try:
            return json.loads(await runner.send_and_receive(worker, json.dumps(chunk), timeout=60))
        finally:
            await runner.stop_worker(worker)

    results = await asyncio.gather(*(run_on(r, c) for r, c in zip(runners, chunks, strict=True)))
    return {
        "n": n,
        "runners": [r.name for r in runners],
        "results": results,
        "sum_of_squares": sum(r["sum_of_squares"] for r in results),
    }


Node.start(http_server=HttpServer(app=app))
