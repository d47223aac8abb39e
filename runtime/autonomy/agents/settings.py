"""The settings of one agent, as given to `Agent.start`, checked once with messages that name the field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from autonomy.models.model import Model

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


@dataclass
class AgentSettings:
    name: str
    instructions: str
    model: Model
    tools: list[Any] = field(default_factory=list)  # InvokableTool or tool factories
    max_iterations: int = 1000
    max_execution_time: float = 600.0
    max_messages_in_short_term_memory: int | None = 1000
    max_tokens_in_short_term_memory: int | None = 100_000
    enable_long_term_memory: bool = False
    enable_ask_for_user_input: bool = False
    context_summary: dict[str, Any] | None = None
    exposed_as: str | None = None
    max_queued_per_conversation: int = 100
    #: With long-term memory, idle conversations beyond this many leave the process (they reload on use).
    max_idle_conversations_in_process: int = 10_000

    def check(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"Agent name {self.name!r}: use 1-200 characters of letters, digits, '_' and '-'")
        if not isinstance(self.instructions, str):
            raise TypeError("Agent instructions must be a string (the system prompt)")
        if not isinstance(self.max_iterations, int) or self.max_iterations < 1:
            raise ValueError(f"max_iterations must be a positive integer, not {self.max_iterations!r}")
        if not isinstance(self.max_execution_time, int | float) or self.max_execution_time <= 0:
            raise ValueError(
                f"max_execution_time must be a positive number of seconds, not {self.max_execution_time!r}"
            )
        if not isinstance(self.model, Model):
            raise TypeError(f"model must be a Model, e.g. Model('gpt-4o-mini'), not {type(self.model).__name__}")
