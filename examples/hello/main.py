"""The smallest node: one worker, one request, then serve HTTP on :8000 until Ctrl-C.

    curl localhost:8000/workers
"""

from autonomy import Node


class Greeter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_message(self, context, message):
        self.count += 1
        await context.reply(f"hello {message} (greeting #{self.count})")


async def main(node):
    await node.start_worker("greeter", Greeter())
    print(await node.send_and_receive("greeter", "world"), flush=True)
    print(f"node {node.name} serving on http://localhost:8000 (try: curl localhost:8000/workers)", flush=True)


Node.start(main)
