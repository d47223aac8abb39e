"""Rolling summaries of long conversations (`context_summary=`), made in the background.

When more than `ceiling` messages follow the last summary, all but the newest `floor` are folded into
the summary by a model call that runs beside the conversation, never in front of it: the context may lag
a turn or two behind, but no request waits for a summary. The model then sees the instructions, the
summary, and the messages after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autonomy.agents.messages import Stored, chat_message
from autonomy.models.model import Model

DEFAULT_INSTRUCTIONS = (
    "Summarize the conversation below for the assistant who continues it: keep facts, decisions, names, "
    "numbers, open questions and what the user wants. Be concise. Output only the summary."
)


@dataclass
class SummaryConfig:
    floor: int = 10
    ceiling: int = 20
    size: int = 2048
    model: Model | None = None
    instructions: str = DEFAULT_INSTRUCTIONS

    @classmethod
    def from_option(cls, option: dict[str, Any]) -> SummaryConfig:
        unknown = set(option) - {"floor", "ceiling", "size", "model", "instructions"}
        if unknown:
            raise ValueError(
                f"context_summary: unknown keys {sorted(unknown)}; use floor, ceiling, size, model, instructions"
            )
        config = cls(**{k: v for k, v in option.items() if v is not None})
        if not 0 < config.floor < config.ceiling:
            raise ValueError(
                f"context_summary: need 0 < floor < ceiling, got floor={config.floor} ceiling={config.ceiling}"
            )
        return config


def transcript(messages: list[Stored]) -> str:
    lines = []
    for message in map(chat_message, messages):
        if message.get("tool_calls"):
            calls = ", ".join(
                f"{c['function']['name']}({c['function'].get('arguments', '')})" for c in message["tool_calls"]
            )
            lines.append(f"assistant called: {calls}")
        if message.get("content"):
            who = f"tool {message.get('name', '')}" if message["role"] == "tool" else message["role"]
            lines.append(f"{who}: {message['content']}")
    return "\n".join(lines)


class Summarizer:
    """The summary of one conversation and the last message it covers."""

    def __init__(self, config: SummaryConfig, model: Model) -> None:
        self.config = config
        self.model = config.model or model
        self.text = ""
        self.covers: Stored | None = None  # the newest message folded, by identity

    def unsummarized(self, history: list[Stored]) -> list[Stored]:
        if self.covers is None:
            return history
        for index, message in enumerate(history):
            if message is self.covers:
                rest = history[index + 1 :]
                while rest and rest[0]["role"] == "tool":  # never open the context with an orphaned result
                    rest = rest[1:]
                return rest
        return history  # the covered part was trimmed away already

    def due(self, history: list[Stored]) -> list[Stored] | None:
        """The messages to fold now, or None when the conversation is still short enough."""
        rest = self.unsummarized(history)
        if len(rest) <= self.config.ceiling:
            return None
        cut = len(rest) - self.config.floor
        while cut < len(rest) and rest[cut]["role"] == "tool":  # keep tool results with their call
            cut += 1
        return rest[:cut] or None

    async def fold(self, messages: list[Stored]) -> None:
        previous = f"Summary so far:\n{self.text}\n\n" if self.text else ""
        response = await self.model.complete(
            [
                {"role": "system", "content": self.config.instructions},
                {"role": "user", "content": f"{previous}Conversation:\n{transcript(messages)}"},
            ],
            max_tokens=self.config.size,
        )
        self.text = response.text.strip()
        self.covers = messages[-1]
