"""A fan-out over short-lived agents in batches, the way upstream's code-review example uses `gather`:
start an agent per file and send it the file (5 at a time), then collect each answer and stop its agent
(5 at a time). Prints one JSON line: the answers in file order and the most files in flight at once."""

import json

from autonomy import Agent, Model, Node, gather

FILES = [f"module_{i:02d}.py" for i in range(12)]
in_flight = 0
most_in_flight = 0


async def tracked(coroutine):
    global in_flight, most_in_flight
    in_flight += 1
    most_in_flight = max(most_in_flight, in_flight)
    try:
        return await coroutine
    finally:
        in_flight -= 1


async def review(node, filename):
    agent = await Agent.start(node=node, instructions="Say YES if the code is secure, else NO.",
                              model=Model("nova-micro-v1"), max_iterations=5, timeout=30.0)
    receiver = await agent.send_message(f"Filename: {filename}")
    return agent, filename, receiver


async def collect(node, agent, filename, receiver):
    try:
        answer = await receiver.receive_message(timeout=120)
        return {"file": filename, "analysis": answer[-1].content.text}
    finally:
        await Agent.stop(node, agent.name, timeout=10.0)


async def main(node):
    started = await gather(*(tracked(review(node, f)) for f in FILES), batch_size=5)
    results = await gather(*(tracked(collect(node, *s)) for s in started), batch_size=5)
    left = [a for a in await node.list_agents()]
    print("RESULT " + json.dumps({"results": results, "most_in_flight": most_in_flight, "agents_left": left}),
          flush=True)


Node.start(main)
