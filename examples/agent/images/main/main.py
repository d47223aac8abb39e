"""An agent with two tools: a Python function, and a tool of the MCP server in the `tools` container.

    curl -X POST http://127.0.0.1:8000/agents/helper -H 'content-type: application/json' \
         -d '{"message": "How many words are in the note about deployments?"}'
"""

import os

from autonomy import Agent, McpClient, McpTool, Model, Node, Tool


def count_words(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


async def main(node):
    await Agent.start(
        node=node,
        name="helper",
        instructions="You answer questions about the team's notes. Look notes up with the notes tool, "
        "and count words with count_words when asked.",
        model=Model(os.environ.get("MODEL", "gpt-4o-mini")),
        tools=[Tool(count_words), McpTool("notes", "lookup_note")],
    )


Node.start(main, mcp_clients=[McpClient(name="notes", address=os.environ["NOTES_MCP_URL"])])
