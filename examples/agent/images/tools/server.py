"""An MCP tool server (SSE on localhost:8001) beside the agent's node, in the same pod."""

import os

from mcp.server.mcpserver import MCPServer

NOTES = {
    "deployments": "Deploy with autonomy zone deploy --wait; it builds images and applies the Zone.",
    "on-call": "The on-call engineer rotates every Monday at 09:00 UTC.",
}

server = MCPServer("notes")


@server.tool()
def lookup_note(topic: str) -> str:
    """Return the team's note about a topic (deployments, on-call)."""
    return NOTES.get(topic.strip().lower(), f"no note about {topic!r}; topics: {', '.join(NOTES)}")


if __name__ == "__main__":
    # Only the pod's own containers reach it: it listens on the pod's localhost.
    server.run("sse", host="127.0.0.1", port=int(os.environ.get("NOTES_MCP_PORT", "8001")))
