"""One conversation of one agent: its queue of requests and the THINKING/ACTING loop that answers them.

Requests of a conversation run one after another, in arrival order; different conversations run in
parallel. A request arriving while a run is active interrupts that run (it ends with "Agent was
interrupted by new message"). `ask_user_for_input` pauses: the question goes out with phase
`waiting_for_input`, the run ends, and the next message of the conversation becomes the tool's result.

There is no resident task per idle conversation: a drain task exists only while requests are queued.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from autonomy.agents.messages import (
    ConversationMessage,
    FunctionCall,
    Phase,
    Stored,
    ToolCallMessage,
    assistant,
    chat_message,
    tool_result,
)
from autonomy.agents.summary import Summarizer, SummaryConfig
from autonomy.models.errors import ModelError
from autonomy.models.types import ResponseAccumulator
from autonomy.tools.base import failure

if TYPE_CHECKING:
    from autonomy.agents.core import AgentCore, Toolset

logger = logging.getLogger("autonomy.agent")

ASK_USER_TOOL = "ask_user_for_input"
INTERRUPTED_TEXT = "Agent was interrupted by new message"

#: A frame to the caller: a JSON-able dict (see `autonomy.agents.protocol`).
Reply = Callable[[dict[str, Any]], Awaitable[None]]


class State(StrEnum):
    READY = "ready"
    THINKING = "thinking"
    ACTING = "acting"
    WAITING_FOR_INPUT = "waiting_for_input"
    DONE = "done"


@dataclass
class Request:
    messages: list[ConversationMessage]
    reply: Reply
    stream: bool = False
    received: float = field(default_factory=time.monotonic)


class Conversation:
    __slots__ = (
        "_drain", "_interrupting", "_run", "_summarizer", "_summarizing", "_toolset", "agent", "conversation",
        "pending_input", "queue", "scope", "state",
    )  # fmt: skip

    def __init__(self, agent: AgentCore, scope: str, conversation: str) -> None:
        self.agent = agent
        self.scope = scope
        self.conversation = conversation
        self.state = State.READY
        self.pending_input: ToolCallMessage | None = None
        self.queue: list[Request] = []  # bounded and short; a list costs a tenth of a deque when idle
        self._drain: asyncio.Task[None] | None = None
        self._run: asyncio.Task[None] | None = None
        self._interrupting = False
        self._toolset: Toolset | None = None
        summary = agent.settings.context_summary
        self._summarizer = (
            Summarizer(SummaryConfig.from_option(summary), agent.settings.model) if summary is not None else None
        )
        self._summarizing: asyncio.Task[None] | None = None

    @property
    def is_paused(self) -> bool:
        return self.pending_input is not None

    @property
    def summarizing(self) -> bool:
        return self._summarizing is not None and not self._summarizing.done()

    @property
    def is_active(self) -> bool:
        return self._run is not None and not self._run.done()

    def submit(self, request: Request) -> bool:
        """Queue a request (never blocks); False when this conversation's queue is full."""
        if len(self.queue) >= self.agent.settings.max_queued_per_conversation:
            return False
        self.queue.append(request)
        if self.is_active and self._run is not None and self.state in (State.THINKING, State.ACTING):
            self._interrupting = True
            self._run.cancel()
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._drain_queue(), name=f"agent:{self.agent.name}:{self.conversation}")
        return True

    async def stop(self) -> None:
        for task in (self._run, self._drain, self._summarizing):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._run, self._drain, self._summarizing):
            if task is not None:
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass

    async def _drain_queue(self) -> None:
        while self.queue:
            request = self.queue.pop(0)
            self._interrupting = False
            run = self._run = asyncio.create_task(self._answer(request))
            try:
                await run
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    run.cancel()  # the agent is stopping
                    raise
                # interrupted before the run could catch it: the caller still gets its answer
                await _quietly(request.reply({"type": "error", "code": "interrupted", "message": INTERRUPTED_TEXT}))
            except Exception:
                logger.exception("agent %s: run failed", self.agent.name)
        # An idle conversation keeps no task (nor its frames) alive.
        self._run = None
        self._drain = None

    async def _ensure_tools(self) -> Toolset:
        if self._toolset is None:
            self._toolset = await self.agent.toolset(self.scope, self.conversation)
        return self._toolset

    async def _answer(self, request: Request) -> None:
        """Run one request to its end and send the caller its frames."""
        part = 0
        produced: list[ConversationMessage] = []

        async def emit(messages: list[ConversationMessage], finished: bool = False) -> None:
            nonlocal part
            if request.stream:
                await request.reply(
                    {
                        "type": "streamed_conversation_snippet",
                        "snippet": {
                            "scope": self.scope,
                            "conversation": self.conversation,
                            "messages": [m.to_json() for m in messages],
                        },
                        "part_nb": part,
                        "finished": finished,
                    }
                )
                part += 1

        async def finish() -> None:
            if request.stream:
                await emit([], finished=True)
            else:
                await request.reply(
                    {
                        "type": "conversation_snippet",
                        "scope": self.scope,
                        "conversation": self.conversation,
                        "messages": [m.to_json() for m in produced],
                        "finished": True,
                    }
                )

        try:
            await self._think_and_act(request, emit, produced)
        except ModelError as error:
            self.state = State.DONE
            await request.reply({"type": "error", "code": "model", "message": str(error)})
            return
        except Exception as error:
            self.state = State.DONE
            logger.exception("agent %s: run failed", self.agent.name)
            await request.reply({"type": "error", "code": "agent", "message": f"{type(error).__name__}: {error}"})
            return
        await finish()

    async def _think_and_act(
        self,
        request: Request,
        emit: Callable[[list[ConversationMessage]], Awaitable[None]],
        produced: list[ConversationMessage],
    ) -> None:
        settings = self.agent.settings
        memory = self.agent.memory
        toolset = await self._ensure_tools()
        unanswered: dict[str, str] = {}

        async def record(message: ConversationMessage, stream_it: bool = True) -> None:
            await memory.add_message(self.scope, self.conversation, message)
            produced.append(message)
            if stream_it:
                await emit([message])

        async def stop_with(text: str) -> None:
            for call_id, name in list(unanswered.items()):
                await memory.add_message(self.scope, self.conversation, tool_result(call_id, name, f"Not run: {text}"))
            unanswered.clear()
            self.state = State.DONE
            await record(assistant(text))

        try:
            self.state = State.THINKING
            if self.pending_input is not None:
                call, self.pending_input = self.pending_input, None
                answer = "\n".join(m.text for m in request.messages)
                await memory.add_message(
                    self.scope, self.conversation, tool_result(call.id, call.function.name, answer)
                )
            else:
                await memory.add_messages(self.scope, self.conversation, request.messages)
            async with asyncio.timeout(settings.max_execution_time):
                for _ in range(settings.max_iterations):
                    self.state = State.THINKING
                    context = await self._context()
                    accumulator = ResponseAccumulator()
                    async for delta in settings.model.stream_chat(context, toolset.specs or None):
                        accumulator.add(delta)
                        if delta.text:
                            await emit([assistant(delta.text)])
                    response = accumulator.response()
                    calls = [
                        ToolCallMessage(id=c.id, function=FunctionCall(name=c.name, arguments=c.arguments))
                        for c in response.tool_calls
                    ]
                    message = assistant(response.text, calls or None)
                    await memory.add_message(self.scope, self.conversation, message)
                    produced.append(message)
                    if not calls:
                        self.state = State.DONE
                        await self._maybe_summarize()
                        return
                    await emit([assistant("", calls)])
                    unanswered = {c.id: c.function.name for c in calls}
                    self.state = State.ACTING
                    for call in calls:
                        if call.function.name == ASK_USER_TOOL and settings.enable_ask_for_user_input:
                            await self._pause(call, unanswered, record)
                            return
                        result = await self._invoke(toolset, call)
                        del unanswered[call.id]
                        await record(tool_result(call.id, call.function.name, result))
                await stop_with(f"Stopped: reached max_iterations ({settings.max_iterations}) for this request.")
        except TimeoutError:
            await stop_with(f"Stopped: reached max_execution_time ({settings.max_execution_time}s) for this request.")
        except asyncio.CancelledError:
            if not self._interrupting:
                raise
            await stop_with(INTERRUPTED_TEXT)

    async def _context(self) -> list[dict[str, Any]]:
        system = self._toolset.system if self._toolset is not None else self.agent.settings.instructions
        history = await self.agent.memory.get_stored(self.scope, self.conversation)
        if self._summarizer is not None and self._summarizer.text:
            history = self._summarizer.unsummarized(history)
            system += f"\n\nSummary of the earlier conversation:\n{self._summarizer.text}"
        return [{"role": "system", "content": system}, *map(chat_message, history)]

    async def _maybe_summarize(self) -> None:
        """Start folding old messages into the summary, in the background, if the conversation is long."""
        if self._summarizer is None or (self._summarizing is not None and not self._summarizing.done()):
            return
        due = self._summarizer.due(await self.agent.memory.get_stored(self.scope, self.conversation))
        if due is not None:
            self._summarizing = asyncio.create_task(self._summarize(self._summarizer, due))

    async def _summarize(self, summarizer: Summarizer, messages: list[Stored]) -> None:
        try:
            await summarizer.fold(messages)
        except Exception as error:  # a failed summary only means a longer context next time
            logger.warning("agent %s: summary failed: %s", self.agent.name, error)

    async def _pause(
        self,
        call: ToolCallMessage,
        unanswered: dict[str, str],
        record: Callable[[ConversationMessage], Awaitable[None]],
    ) -> None:
        try:
            question = str(json.loads(call.function.arguments or "{}").get("question", ""))
        except (json.JSONDecodeError, AttributeError):
            question = call.function.arguments
        # Other calls of the same turn are answered now, so the pair structure stays valid for every provider.
        for call_id, name in list(unanswered.items()):
            if call_id != call.id:
                text = "Not run: the conversation paused to ask the user first; call it again if still needed."
                await self.agent.memory.add_message(self.scope, self.conversation, tool_result(call_id, name, text))
        unanswered.clear()
        self.pending_input = call
        self.state = State.WAITING_FOR_INPUT
        await record(assistant(question or "I need more information.", phase=Phase.WAITING_FOR_INPUT))

    async def _invoke(self, toolset: Toolset, call: ToolCallMessage) -> str:
        tool = toolset.by_name.get(call.function.name)
        if tool is None:
            available = ", ".join(sorted(toolset.by_name)) or "none"
            return failure(LookupError(f"unknown tool {call.function.name!r}; available tools: {available}"))
        try:
            result = await tool.invoke(call.function.arguments)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a custom tool that breaks the no-raise contract
            return failure(error)
        return result if isinstance(result, str) else json.dumps(result, default=str)

    async def describe(self) -> dict[str, Any]:
        return {
            "is_paused": self.is_paused,
            "phase": self.state.value,
            "message_count": await self.agent.memory.get_message_count(self.scope, self.conversation),
            "scope": self.scope,
            "conversation": self.conversation,
        }


async def _quietly(awaitable: Awaitable[None]) -> None:
    """Send a best-effort frame: the caller may be gone, which must not break the conversation."""
    try:
        await awaitable
    except Exception as error:
        logger.debug("reply dropped: %s", error)
