"""Upstream's message classes as apps use them: a system and a user message straight to a model (as its
chat examples do), and a list of user messages to an agent. Prints what came back, one line each."""

from autonomy import Agent, Model, Node, SystemMessage, UserMessage


async def main(node):
    model = Model("llama3.2")
    response = await model.complete_chat(
        [SystemMessage("You are a helpful assistant."), UserMessage("What is the capital of France?")]
    )
    print(f"MODEL {response.choices[0].message.content}", flush=True)

    agent = await Agent.start(node=node, name="helper", instructions="Answer briefly.", model=Model("gpt-4o-mini"))
    reply = await agent.send([UserMessage("I have two questions."), UserMessage("What is 2 + 2?")])
    print(f"AGENT {reply[-1].content.text}", flush=True)
    print(f"PRINTED {reply[-1]}", flush=True)  # apps print replies (and `str(reply[0].content)`, as 010 does)
    print(f"CONTENT {reply[0].content}", flush=True)


Node.start(main)
