"""`Repl.start(agent)` in a node process, used from `autonomy zone repl` on a real pseudo-terminal, and the
wire upstream's own terminal client reads."""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.conftest import APPS
from tests.compat.terminal import Terminal
from tests.support.processes import FollowedOutput, free_port
from tests.support.scripted_llm import Reply, Script, ScriptedLLM
from tests.zone_dev_support import DevRun

AUTONOMY = str(Path(sys.executable).with_name("autonomy"))


@pytest.fixture
def repl_node(app_env: dict[str, str]) -> Iterator[tuple[int, dict[str, str]]]:
    port = free_port()
    env = {**app_env, "DEFAULT_PORT_REPL": str(port)}
    node = FollowedOutput([sys.executable, str(APPS / "repl_agent.py")], env=env)
    try:
        node.wait_for(lambda line: line == "REPL READY", timeout=60)
        yield port, env
    finally:
        node.stop()


@pytest.fixture
def terminal(repl_node: tuple[int, dict[str, str]]) -> Iterator[Terminal]:
    port, env = repl_node
    term = Terminal([AUTONOMY, "zone", "repl", "--to", f"127.0.0.1:{port}"], env)
    try:
        term.expect("You are connected to your agent - ")
        term.expect("/jack")
        term.expect("> ")
        yield term
    finally:
        term.close()


def test_answers_stream_onto_the_terminal_as_the_model_writes_them(script: Script, terminal: Terminal) -> None:
    script.then(Reply(text="Arr, the Black Pearl be the fastest ship", chunk_delay=0.15))
    terminal.type("which ship is the fastest?")
    first = terminal.expect("Arr,")
    last = terminal.expect("fastest ship")
    # Words arrive over ~1 s: the first is shown well before the last was written by the model.
    assert last - first > 0.5
    terminal.expect("> ")


def test_a_connection_is_one_conversation_and_reconnecting_starts_another(script: Script,
                                                                          terminal: Terminal) -> None:
    script.then(Reply(text="Aye, Jack it is."), Reply(text="Ye be Will."), Reply(text="Who be ye?"))
    terminal.type("my name is Will")
    terminal.expect("Aye, Jack it is.")
    terminal.type("what is my name?")
    terminal.expect("Ye be Will.")
    said = [m["content"] for m in script.requests[-1]["messages"] if m["role"] == "user"]
    assert said == ["my name is Will", "what is my name?"]
    terminal.type(":reconnect")
    terminal.expect("Welcome to Autonomy")
    terminal.type("what is my name?")
    terminal.expect("Who be ye?")
    said = [m["content"] for m in script.requests[-1]["messages"] if m["role"] == "user"]
    assert said == ["what is my name?"]


def test_multi_line_messages_reach_the_agent_whole(script: Script, terminal: Terminal) -> None:
    script.then(Reply(text="Two lines, aye."))
    for line in ['"""', "first line", "second line", '"""']:
        terminal.type(line)
    terminal.expect("Two lines, aye.")
    assert script.requests[-1]["messages"][-1]["content"] == "first line\nsecond line"


def test_a_question_the_agent_asks_back_is_answered_at_the_prompt(script: Script, terminal: Terminal) -> None:
    script.when("book me a passage", Reply(tool_calls=[("ask_user_for_input", {"question": "Where to, mate?"})]))
    script.when("Tortuga", Reply(text="Off to Tortuga!"))
    terminal.type("book me a passage")
    terminal.expect("Where to, mate?")
    terminal.expect("> ")
    terminal.type("Tortuga")
    terminal.expect("Off to Tortuga!")
    # The answer went back to the paused run as the tool's result, not as a new message.
    last = script.requests[-1]["messages"][-1]
    assert (last["role"], last["content"]) == ("tool", "Tortuga")


def test_commands_answer_and_the_prompt_comes_back(script: Script, terminal: Terminal) -> None:
    terminal.type(":help")
    terminal.expect("Type ':run' to run a predefined function.")
    terminal.expect("> ")
    terminal.type(":functions")
    terminal.expect("tide")
    terminal.expect("> ")
    terminal.type(":run tide")
    terminal.expect("high tide at noon")
    terminal.type(":run treasure")
    terminal.expect("Function not found.")
    terminal.type(":scope")
    terminal.expect("Invalid scope format. Use ':scope <scope>'.")
    terminal.type(":scope crew-7")
    terminal.expect("Scope set to crew-7")
    terminal.type(":parley")
    terminal.expect("Unknown command: :parley")
    terminal.expect("> ")
    assert script.requests == []  # no command reached the model


@pytest.mark.parametrize("leave", [":quit", ":q", "ctrl-d"])
def test_the_terminal_leaves_with_quit_or_end_of_input(terminal: Terminal, leave: str) -> None:
    if leave == "ctrl-d":
        terminal.send_eof()
    else:
        terminal.type(leave)
    assert terminal.wait() == 0


def test_a_repl_that_never_comes_up_is_reported(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from autonomy.cli import repl_client
    from autonomy.cli.exits import CliError

    monkeypatch.setattr(repl_client, "CONNECT_FOR", 0.5)
    with pytest.raises(CliError, match=r"is the node running, and does its main call `Repl\.start"):
        repl_client.ReplClient(f"127.0.0.1:{free_port()}").run()


def _frames(sock: socket.socket, until_end: bool) -> list[str]:
    """Read frames the way upstream's client does: `<length>\\n<bytes>`, `0\\n` ends an answer."""
    stream = sock.makefile("rb")
    frames: list[str] = []
    while True:
        length = int(stream.readline().strip())
        if length == 0:
            return frames
        frames.append(stream.read(length).decode())
        if not until_end:
            return frames


def test_the_wire_is_upstreams(script: Script, repl_node: tuple[int, dict[str, str]]) -> None:
    """The welcome is one frame on its own; every later input gets frames and then the end marker (for
    commands too: upstream's server leaves that out, and its client then waits minutes for it)."""
    script.then(Reply(text="Savvy?"))
    port, _ = repl_node
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        (welcome,) = _frames(sock, until_end=False)
        assert welcome.startswith("\nWelcome to Autonomy 👋\n\nYou are connected to your agent - ")
        assert welcome.endswith("Type ':quit' or ':q' to disconnect.\n\n")
        sock.sendall(b"ahoy\n")
        assert "".join(_frames(sock, until_end=True)) == "Savvy?"
        sock.sendall(b":conversation voyage-2\n")
        assert _frames(sock, until_end=True) == ["Conversation set to voyage-2\n\n"]
        sock.sendall(b":quit\n")
        sock.settimeout(10)
        assert sock.recv(1) == b""  # the server hangs up


ZONE = """\
name: pirates
pods:
  - name: main-pod
    public: true
    containers:
      - name: main
        image: main
    portals:
      outlets:
        - to: localhost:7000
"""


def test_a_zone_from_zone_dev_answers_on_the_terminal(script: Script, llm_server: ScriptedLLM,
                                                      tmp_path: Path) -> None:
    """As a user runs upstream's first example: `autonomy zone dev` in the zone's folder, then
    `autonomy zone repl` in another terminal (here on a free port, not 7000: tests run side by side)."""
    (tmp_path / "autonomy.yaml").write_text(ZONE)
    image = tmp_path / "images" / "main"
    image.mkdir(parents=True)
    (image / "Dockerfile").write_text('FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\n'
                                      'ENTRYPOINT ["python", "main.py"]\n')
    (image / "main.py").write_text((APPS / "repl_agent.py").read_text())
    script.then(Reply(text="Arr, welcome aboard the zone."))
    port = free_port()
    run = DevRun(tmp_path / "autonomy.yaml", "-e", f"OPENAI_BASE_URL={llm_server.base_url}", "-e",
                 "OPENAI_API_KEY=test", "-e", "AUTONOMY_MODEL_PROVIDER=openai", "-e", f"DEFAULT_PORT_REPL={port}")
    term = Terminal([AUTONOMY, "zone", "repl", "--to", f"127.0.0.1:{port}"], dict(os.environ))
    try:
        term.expect("You are connected to your agent - pirates-main-pod-0/jack", timeout=60)
        term.type("hello")
        term.expect("Arr, welcome aboard the zone.")
        term.type(":q")
        assert term.wait() == 0
        assert run.stop(signal.SIGINT) == 0
        run.wait_none_left()
    finally:
        term.close()
        run.cleanup()
