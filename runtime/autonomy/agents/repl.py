"""`Repl`: talk to an agent from a terminal, as upstream's `Repl.start(agent)`.

The node listens on TCP (`127.0.0.1:7000` by default, or `DEFAULT_HOST_REPL`/`DEFAULT_PORT_REPL`); a
terminal client (`autonomy zone repl --to HOST:PORT`, or upstream's CLI) connects, sends one line per
message, and prints what comes back. The wire is upstream's:

- client to server: a line of text; a line `\"\"\"` opens a multi-line message that a line `\"\"\"` closes;
  `:help`, `:scope <s>`, `:conversation <c>`, `:functions`, `:run <name>`, `:quit` are commands.
- server to client: frames `<byte length>\\n<bytes>`; a frame of length 0 (`0\\n`) ends an answer. The
  welcome is one frame on its own; every later input gets frames and then the end marker.

Each connection is its own conversation (a random scope and conversation, as upstream). Unlike
upstream, command replies end with the marker too (upstream's client otherwise waits minutes for it),
scope and conversation belong to the connection (upstream keeps one pair for all its clients), streamed
text is sent as it arrives rather than word by word with a 30 ms pause, and a non-streamed answer
prints the agent's last message (upstream prints the first, a tool call when there is one).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

logger = logging.getLogger("autonomy.repl")



def default_listen_address() -> str:
    """`DEFAULT_HOST_REPL:DEFAULT_PORT_REPL`, else 127.0.0.1:7000 (read when a REPL starts)."""
    host = os.environ.get("DEFAULT_HOST_REPL") or "127.0.0.1"
    port = os.environ.get("DEFAULT_PORT_REPL") or "7000"
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"DEFAULT_PORT_REPL={port!r} is not a port number: use 0 to 65535, e.g. 7000")
    return f"{host}:{port}"


END_OF_ANSWER = b"0\n"
MULTILINE = '"""'

SHORT_HELP = "Type ':help' or ':h' to see this message again.\nType ':quit' or ':q' to disconnect."
HELP = (
    "Type ':help' or ':h' to see this message again.\n"
    "Type ':scope' or ':s' to set the scope for future interactions.\n"
    "Type ':conversation' or ':c' to set the conversation for future interactions.\n"
    "Type ':functions' to see the list of available functions.\n"
    "Type ':run' to run a predefined function.\n"
    "Type ':quit' or ':q' to disconnect."
)


def encode_frame(text: str) -> bytes:
    body = text.encode()
    return f"{len(body)}\n".encode() + body


def parse_listen_address(listen_address: str) -> tuple[str, int]:
    host, sep, port = listen_address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"Invalid listen_address: {listen_address!r}: use HOST:PORT, e.g. '127.0.0.1:7000'")
    return host.strip("[]"), int(port)


class _Session:
    """One connected terminal: its conversation and its socket."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.scope = secrets.token_hex(16)
        self.conversation = secrets.token_hex(12)

    async def say(self, text: str) -> None:
        """A message of the REPL itself, then the end marker (blank lines after it leave room for the prompt)."""
        self.writer.write(encode_frame(text + "\n\n") + END_OF_ANSWER)
        await self.writer.drain()

    async def write(self, text: str) -> None:
        if text:
            self.writer.write(encode_frame(text))
            await self.writer.drain()

    async def end(self) -> None:
        self.writer.write(END_OF_ANSWER)
        await self.writer.drain()


class Repl:
    def __init__(self, agent_reference: Any, listen_address: str | None = None,
                 functions: dict[str, Callable[[], Any]] | None = None, timeout: float | None = 120,
                 stream: bool = True) -> None:
        self.host, self.port = parse_listen_address(listen_address or default_listen_address())
        self.agent_reference = agent_reference
        self.functions = dict(functions or {})
        self.timeout = timeout
        self.stream = stream
        self.server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    @staticmethod
    async def start(agent_reference: Any, listen_address: str | None = None,
                    functions: dict[str, Callable[[], Any]] | None = None, timeout: float | None = None,
                    stream: bool = True) -> Repl:
        """Serve the REPL of `agent_reference` until the node stops; returns once it listens."""
        repl = Repl(agent_reference, listen_address, functions, timeout, stream)
        await repl.listen()
        add_stop_callback = getattr(getattr(agent_reference, "node", None), "add_stop_callback", None)
        if callable(add_stop_callback):
            add_stop_callback(repl.stop)  # connected terminals are told and hung up on when the node stops
        return repl

    async def listen(self) -> None:
        try:
            self.server = await asyncio.start_server(self._handle_client, self.host, self.port)
        except OSError as error:
            raise OSError(
                f"the REPL cannot listen on {self.host}:{self.port} ({error.strerror}): pass another "
                "listen_address to Repl.start, or set DEFAULT_PORT_REPL"
            ) from error
        sockets = self.server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])  # the real port when 0 was asked for
        logger.info("REPL of agent %r listening on %s:%d", self._agent_name, self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and hang up on every connected terminal (each gets the end marker first)."""
        if self.server is not None:
            self.server.close()
        for session in list(self._sessions):
            with contextlib.suppress(Exception):
                session.writer.write(END_OF_ANSWER)
                session.writer.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)
            self.server = None

    @contextlib.asynccontextmanager
    async def managed_lifecycle(self, startup_timeout: float = 10.0,
                                shutdown_timeout: float = 5.0) -> AsyncIterator[Repl]:
        """`async with repl.managed_lifecycle():` listens for the block and stops afterwards, as upstream."""
        await asyncio.wait_for(self.listen(), startup_timeout)
        try:
            yield self
        finally:
            await asyncio.wait_for(self.stop(), shutdown_timeout)

    @property
    def _agent_name(self) -> str:
        return str(getattr(self.agent_reference, "name", "agent"))

    @property
    def _node_name(self) -> str:
        ref = self.agent_reference
        name = getattr(ref, "node_name", None) or getattr(getattr(ref, "node", None), "name", None)
        return str(name or "node")

    # -- one connection ----------------------------------------------------------------------------

    async def _handle_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        session = _Session(writer)
        self._sessions.add(session)
        try:
            welcome = (
                "\nWelcome to Autonomy 👋\n\n"
                f"You are connected to your agent - {self._node_name}/{self._agent_name}\n"
                "Ask it a question or give it a task.\n\n"
            )
            # The welcome stands alone, without the end marker: clients read exactly one frame first.
            await session.write(welcome + SHORT_HELP + "\n\n")
            while True:
                message = await self._read_message(reader)
                if message is None:
                    break
                if not message:
                    continue
                if message.lower() in (":quit", ":q"):
                    break
                if message.startswith(":"):
                    await self._command(session, message)
                else:
                    await self._ask(session, message)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the terminal went away
        except UnicodeDecodeError:
            with contextlib.suppress(Exception):
                await session.say("Error: Invalid message encoding. Please use UTF-8.")
        finally:
            self._sessions.discard(session)
            if task is not None:
                self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    @staticmethod
    async def _read_message(reader: asyncio.StreamReader) -> str | None:
        """The next message: one line, or the lines between two `\"\"\"` lines. None at end of input."""
        line = await reader.readline()
        if not line:
            return None
        if line.decode().strip() != MULTILINE:
            return line.decode().strip()
        lines: list[str] = []
        while True:
            line = await reader.readline()
            if not line or line.decode().strip() == MULTILINE:
                return "\n".join(lines).strip()
            lines.append(line.decode().rstrip("\n"))

    async def _command(self, session: _Session, message: str) -> None:
        word, _, argument = message.partition(" ")
        word = word.lower()
        argument = argument.strip()
        if word in (":help", ":h"):
            await session.say(HELP)
        elif word in (":scope", ":s"):
            if not argument:
                await session.say("Invalid scope format. Use ':scope <scope>'.")
                return
            session.scope = argument
            await session.say(f"Scope set to {argument}")
        elif word in (":conversation", ":c"):
            if not argument:
                await session.say("Invalid conversation format. Use ':conversation <conversation>'.")
                return
            session.conversation = argument
            await session.say(f"Conversation set to {argument}")
        elif word == ":functions":
            await session.say("\n".join(self.functions))
        elif word == ":run":
            await self._run(session, argument)
        else:
            await session.say(f"Unknown command: {message}")

    async def _run(self, session: _Session, name: str) -> None:
        if not name or " " in name:
            await session.say("Usage: :run <function_name>")
            return
        function = self.functions.get(name)
        if function is None:
            await session.say("Function not found.")
            return
        try:
            result = function()
            if inspect.isawaitable(result):
                result = await result
        except Exception as error:
            logger.error("REPL function %r failed: %s", name, error)
            await session.say(f"Function execution error: {error}")
            return
        await session.say(str(result))

    async def _ask(self, session: _Session, message: str) -> None:
        try:
            if self.stream:
                await self._ask_streaming(session, message)
            else:
                reply = await self.agent_reference.send(
                    message, scope=session.scope, conversation=session.conversation, timeout=self.timeout
                )
                await session.write(_answer_text(reply))
        except ConnectionError:
            raise
        except Exception as error:
            logger.error("REPL of agent %r: %s", self._agent_name, error)
            await session.write(f"Agent communication error: {error}\n\n")
        await session.end()

    async def _ask_streaming(self, session: _Session, message: str) -> None:
        stream = self.agent_reference.send_stream(
            message, scope=session.scope, conversation=session.conversation, timeout=self.timeout
        )
        async with contextlib.aclosing(stream):
            async for part in stream:
                for item in part.snippet.messages:
                    # The answer's text, and a question the agent asks back; tool calls and results stay out.
                    if getattr(item, "role", "assistant") == "assistant" and not getattr(item, "tool_calls", None):
                        await session.write(item.content.text)
                if part.finished:
                    break


def _answer_text(reply: list[Any]) -> str:
    for item in reversed(reply):
        if getattr(item, "role", "assistant") == "assistant" and item.content.text:
            return str(item.content.text)
    return ""
