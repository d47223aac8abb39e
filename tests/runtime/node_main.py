"""A node process for the multi-process tests: a few workers, then serve until SIGTERM.

Prints `READY <node name> <http port>` on stdout once the node is up.
"""

import asyncio
import json
import sys

from autonomy import HttpServer, Node


class Echo:
    async def handle_message(self, context, message):
        await context.reply(f"echo:{message}")


class Multi:
    """Replies `n` times to the message `n`."""

    async def handle_message(self, context, message):
        for i in range(int(message)):
            await context.reply(f"part {i}")


class Slow:
    """Sleeps the number of seconds in the message, then replies."""

    async def handle_message(self, context, message):
        await asyncio.sleep(float(message))
        await context.reply("slept")


class Whoami:
    def __init__(self, name):
        self.name = name

    async def handle_message(self, context, message):
        await context.reply(json.dumps({"node": self.name, "message": message}))


async def main(node):
    await node.start_worker("echo", Echo())
    await node.start_worker("multi", Multi())
    await node.start_worker("slow", Slow())
    await node.start_worker("whoami", Whoami(node.name))
    print(f"READY {node.name} {node._http.port if node._http else 0}", flush=True)


if __name__ == "__main__":
    Node.start(main, http_server=HttpServer(listen_address="127.0.0.1:0"))
    sys.exit(0)
