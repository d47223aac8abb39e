"""The REPL's answers in both modes, on the wire, with an agent reference of our own making (the REPL
needs only `send`/`send_stream`): what is printed of tool calls, errors, and a non-streamed answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from autonomy import Repl
from autonomy.agents.messages import FunctionCall, ToolCallMessage, assistant, tool_result
from autonomy.agents.reference import Snippet, StreamedConversationSnippet
from autonomy.agents.repl import encode_frame, parse_listen_address

CALL = ToolCallMessage(id="c1", function=FunctionCall(name="compass", arguments="{}"))


class Scripted:
    """An agent reference whose answer is fixed: tool call, tool result, then the text in two parts."""

    name = "jack"
    node_name = "pearl"

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.asked: list[tuple[str, str, str]] = []

    async def send(self, message: str, scope: str = "", conversation: str = "", timeout: Any = None) -> Any:
        self.asked.append((message, scope, conversation))
        if self.fail:
            raise self.fail
        return [assistant("", tool_calls=[CALL]), tool_result("c1", "compass", "north by northwest"),
                assistant("Head north.")]

    async def send_stream(self, message: str, scope: str = "", conversation: str = "",
                          timeout: Any = None) -> AsyncIterator[StreamedConversationSnippet]:
        self.asked.append((message, scope, conversation))
        if self.fail:
            raise self.fail
        parts = [assistant("", tool_calls=[CALL]), tool_result("c1", "compass", "north by northwest"),
                 assistant("Head "), assistant("north.")]
        for n, item in enumerate(parts):
            yield StreamedConversationSnippet(Snippet(scope, conversation, [item]), n, False)
        yield StreamedConversationSnippet(Snippet(scope, conversation, []), len(parts), True)


async def _talk(repl: Repl, *lines: str) -> list[list[str]]:
    """Connect, send each line, and return the frames of each answer (the welcome first)."""
    reader, writer = await asyncio.open_connection(repl.host, repl.port)
    answers: list[list[str]] = []

    async def frames(until_end: bool) -> list[str]:
        got: list[str] = []
        while True:
            length = int((await reader.readline()).strip())
            if length == 0:
                return got
            got.append((await reader.readexactly(length)).decode())
            if not until_end:
                return got

    answers.append(await frames(until_end=False))
    for line in lines:
        writer.write(line.encode() + b"\n")
        answers.append(await frames(until_end=True))
    writer.close()
    await writer.wait_closed()
    return answers


@pytest.mark.parametrize("stream", [True, False])
async def test_only_the_answer_is_printed_not_the_tool_traffic(stream: bool) -> None:
    agent = Scripted()
    repl = await Repl.start(agent, listen_address="127.0.0.1:0", stream=stream)
    try:
        welcome, answer = await _talk(repl, "which way?")
    finally:
        await repl.stop()
    assert "You are connected to your agent - pearl/jack" in welcome[0]
    assert "".join(answer) == "Head north."
    assert answer == (["Head ", "north."] if stream else ["Head north."])  # streamed parts as they came
    (asked,) = agent.asked
    assert asked[0] == "which way?" and len(asked[1]) == 32 and len(asked[2]) == 24  # a random scope, conversation


@pytest.mark.parametrize("stream", [True, False])
async def test_an_agent_error_is_printed_and_the_repl_goes_on(stream: bool) -> None:
    repl = await Repl.start(Scripted(fail=RuntimeError("the kraken ate the ship")), listen_address="127.0.0.1:0",
                            stream=stream)
    try:
        _, first, second = await _talk(repl, "which way?", ":functions")
    finally:
        await repl.stop()
    assert first == ["Agent communication error: the kraken ate the ship\n\n"]
    assert second == ["\n\n"]  # no functions; the connection still answers


async def test_each_connection_is_its_own_conversation() -> None:
    agent = Scripted()
    repl = await Repl.start(agent, listen_address="127.0.0.1:0")
    try:
        await _talk(repl, ":scope crew", "one")
        await _talk(repl, "two")
    finally:
        await repl.stop()
    (one, scope1, conversation1), (two, scope2, conversation2) = agent.asked
    assert (one, two) == ("one", "two")
    assert scope1 == "crew" and scope2 != "crew" and conversation1 != conversation2


async def test_stop_hangs_up_on_connected_terminals() -> None:
    repl = await Repl.start(Scripted(), listen_address="127.0.0.1:0")
    reader, writer = await asyncio.open_connection(repl.host, repl.port)
    await reader.readline()
    await repl.stop()
    rest = await asyncio.wait_for(reader.read(), 5)
    assert rest.endswith(b"0\n")  # the end marker, then the connection closes
    writer.close()


async def test_a_taken_address_and_a_bad_one_are_named() -> None:
    repl = await Repl.start(Scripted(), listen_address="127.0.0.1:0")
    try:
        with pytest.raises(OSError, match=rf"the REPL cannot listen on 127.0.0.1:{repl.port} .*pass another"):
            await Repl.start(Scripted(), listen_address=f"127.0.0.1:{repl.port}")
    finally:
        await repl.stop()
    with pytest.raises(ValueError, match="Invalid listen_address: '7000': use HOST:PORT"):
        Repl(Scripted(), listen_address="7000")


def test_the_default_address_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEFAULT_HOST_REPL", raising=False)
    monkeypatch.delenv("DEFAULT_PORT_REPL", raising=False)
    assert (Repl(Scripted()).host, Repl(Scripted()).port) == ("127.0.0.1", 7000)  # upstream's
    monkeypatch.setenv("DEFAULT_HOST_REPL", "0.0.0.0")
    monkeypatch.setenv("DEFAULT_PORT_REPL", "7100")
    assert (Repl(Scripted()).host, Repl(Scripted()).port) == ("0.0.0.0", 7100)
    monkeypatch.setenv("DEFAULT_PORT_REPL", "seven")
    with pytest.raises(ValueError, match="DEFAULT_PORT_REPL='seven' is not a port number"):
        Repl(Scripted())


def test_frames_are_byte_lengths() -> None:
    assert encode_frame("👋") == b"4\n\xf0\x9f\x91\x8b"
    assert parse_listen_address("[::1]:7000") == ("::1", 7000)


async def test_managed_lifecycle_serves_for_the_block() -> None:
    repl = Repl(Scripted(), listen_address="127.0.0.1:0")
    async with repl.managed_lifecycle() as serving:
        assert serving is repl
        _, answer = await _talk(repl, "which way?")
        assert "".join(answer) == "Head north."
        port = repl.port
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_a_repl_hangs_up_when_its_node_stops() -> None:
    from autonomy import AgentReference, Node

    async with Node.serve(name="pearl", http_server=False, discovery="none", transport_port=0) as node:
        repl = await Repl.start(AgentReference("jack", node), listen_address="127.0.0.1:0")
        reader, writer = await asyncio.open_connection(repl.host, repl.port)
        await reader.readline()
    rest = await asyncio.wait_for(reader.read(), 5)
    assert rest.endswith(b"0\n")
    assert repl.server is None  # no longer listening
    writer.close()
