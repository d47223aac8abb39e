"""A node process with agents for the multi-process agent tests; prints `READY <node> <http port>`.

The agents come from the JSON list in AGENT_SPECS: each item is Agent.start's keyword arguments plus
`tools`, a list of names from TOOLS below. The model endpoint comes from OPENAI_BASE_URL (the scripted
server of the test).
"""

import asyncio
import json
import os
import sys

from autonomy import Agent, HttpServer, Model, Node, Tool


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def slow(seconds: float) -> str:
    """Wait some seconds."""
    await asyncio.sleep(seconds)
    return "waited"


TOOLS = {"add": add, "slow": slow}


async def main(node):
    for spec in json.loads(os.environ.get("AGENT_SPECS", "[]")):
        spec = dict(spec)
        tools = [Tool(TOOLS[name]) for name in spec.pop("tools", [])]
        model = Model(spec.pop("model", "scripted"))
        await Agent.start(node=node, model=model, tools=tools, **spec)
    print(f"READY {node.name} {node._http.port if node._http else 0}", flush=True)


if __name__ == "__main__":
    Node.start(main, http_server=HttpServer(listen_address="127.0.0.1:0"))
    sys.exit(0)
