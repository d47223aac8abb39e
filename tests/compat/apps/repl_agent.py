"""A pirate agent behind a REPL, as upstream's first example sets one up (the port comes from
DEFAULT_PORT_REPL, which the REPL reads as upstream's does)."""

from autonomy import Agent, Model, Node, Repl


async def tide() -> str:
    return "high tide at noon"


async def main(node):
    agent = await Agent.start(
        node=node,
        name="jack",
        instructions="You are Jack Sparrow",
        model=Model("claude-sonnet-4-v1"),
        enable_ask_for_user_input=True,
    )
    await Repl.start(agent, functions={"tide": tide})
    print("REPL READY", flush=True)


Node.start(main)
