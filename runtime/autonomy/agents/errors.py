"""Errors of agents, as upstream names them, inside the framework's error tree.

AutonomyError
└── AgentError                    the agent answered with an error (`code` says which kind)
    └── AgentBusy                 the conversation has too many requests waiting (retry later)
asyncio.TimeoutError
└── AgentTimeoutError
    ├── AgentStartTimeoutError
    ├── AgentStopTimeoutError
    └── SendMessageTimeoutError
"""

from __future__ import annotations

import asyncio

from autonomy.errors import AutonomyError


class AgentError(AutonomyError):
    def __init__(self, message: str, code: str = "agent") -> None:
        super().__init__(message)
        self.code = code


class AgentBusy(AgentError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "busy")


class AgentTimeoutError(asyncio.TimeoutError):
    pass


class AgentStartTimeoutError(AgentTimeoutError):
    pass


class AgentStopTimeoutError(AgentTimeoutError):
    pass


class SendMessageTimeoutError(AgentTimeoutError):
    pass
