"""Workers and mailboxes as upstream's docs use them: a worker typed with `Context`, request/reply, a worker
that replies several times read from the `Mailbox` that `send` returns, a named mailbox, and a tool factory
that gives each conversation its own tools."""

import json

from autonomy import Agent, Context, Mailbox, Model, Node, Tool, ToolFactory, Worker


class Calculator:
    async def handle_message(self, context: Context, message: str):
        request = json.loads(message)
        await context.reply(str(request["x"] + request["y"]))


class Countdown:
    async def handle_message(self, context: Context, message: str):
        for n in range(int(message), 0, -1):
            await context.reply(f"{n}...")
        await context.reply("liftoff")


class Locker(ToolFactory):
    """Each (scope, conversation) gets a locker of its own."""

    def create_tools(self, scope, conversation, agent_name=None):
        def open_locker() -> str:
            """Open the locker of this conversation."""
            return f"locker of {agent_name}/{scope}/{conversation}"

        return [Tool(open_locker)]


async def main(node):
    calculator = Calculator()
    await node.start_worker("calc", calculator)
    print("SUM", await node.send_and_receive("calc", json.dumps({"x": 1, "y": 2})), flush=True)

    await node.start_worker("countdown", Countdown())
    mailbox = await node.send("countdown", "3")
    replies = [await mailbox.receive(timeout=5) for _ in range(4)]
    print("COUNTDOWN", json.dumps(replies), flush=True)

    inbox = await node.create_mailbox("inbox")
    await inbox.send("calc", json.dumps({"x": 20, "y": 22}))
    print("INBOX", await inbox.receive(policy=None, timeout=5), flush=True)

    kinds = [isinstance(calculator, Worker), isinstance(mailbox, Mailbox), isinstance(inbox, Mailbox)]
    print("KINDS", json.dumps(kinds), flush=True)

    agent = await Agent.start(node=node, name="keeper", instructions="Open lockers.", model=Model("gpt-4o-mini"),
                              tools=[Locker()])
    for scope in ("alice", "bob"):
        reply = await agent.send("open my locker", scope=scope, conversation="visit-1")
        print("LOCKER", reply[-1].content.text, flush=True)


Node.start(main)
