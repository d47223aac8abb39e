"""The terminal side of an agent's REPL (`Repl.start` on a node): `autonomy zone repl --to HOST:PORT`.

As upstream's client: it connects (retrying for a minute while the node starts), prints the welcome,
then reads a line at the `> ` prompt (a line `\"\"\"` starts a multi-line message, another ends it),
sends it and prints the frames of the answer as they arrive, until the end marker. `:quit` or `:q`
(or Ctrl-D) leaves; `:reconnect` or `:r` opens a new connection, and so a new conversation; a dropped
connection is reopened the same way.
"""

from __future__ import annotations

import socket
import sys
import time
from typing import BinaryIO, TextIO

from autonomy.agents.repl import MULTILINE, parse_listen_address
from autonomy.cli.exits import CliError, Exit

CONNECT_FOR = 60.0  # seconds to keep trying while the node starts
WELCOME_WITHIN = 5.0  # a listener that sends no welcome by then is not a REPL (yet)


class ConnectionLost(Exception):
    pass


def _read_frame(stream: BinaryIO) -> str | None:
    """The next frame's text; None for the end marker; ConnectionLost when the server hangs up."""
    header = stream.readline()
    if not header:
        raise ConnectionLost("connection closed")
    try:
        length = int(header.strip())
    except ValueError:
        raise ConnectionLost(f"not a REPL frame header: {header[:40]!r}") from None
    if length == 0:
        return None
    body = stream.read(length)
    if len(body) < length:
        raise ConnectionLost("connection closed in the middle of a frame")
    return body.decode(errors="replace")


class ReplClient:
    def __init__(self, address: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        try:
            self.host, self.port = parse_listen_address(address)
        except ValueError:
            raise CliError(f"--to {address!r} is not HOST:PORT (e.g. 127.0.0.1:7000)", Exit.USAGE) from None
        self.out = out
        self.err = err
        self.sock: socket.socket | None = None
        self.stream: BinaryIO | None = None

    def _connect(self) -> None:
        """Connect and print the welcome; waits up to CONNECT_FOR seconds for the node."""
        deadline = time.monotonic() + CONNECT_FOR
        told = False
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=WELCOME_WITHIN)
                stream = sock.makefile("rb")
                try:
                    welcome = _read_frame(stream)
                except (ConnectionLost, OSError):
                    stream.close()
                    sock.close()
                    raise OSError("no welcome") from None
                sock.settimeout(None)  # an agent may think for minutes
                self.sock, self.stream = sock, stream
                self._print(welcome or "")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise CliError(
                        f"no REPL answers on {self.host}:{self.port}: is the node running, and does its main call "
                        "`Repl.start(agent)` (with this listen_address)?",
                        Exit.NOT_FOUND,
                    ) from None
                if not told:
                    print("Waiting for repl to be ready...", file=self.err, flush=True)
                    told = True
                time.sleep(0.5)

    def _close(self) -> None:
        for closable in (self.stream, self.sock):
            if closable is not None:
                closable.close()
        self.sock = self.stream = None

    def _print(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    @staticmethod
    def _read_input() -> str | None:
        """One message from the terminal; None at end of input (Ctrl-D)."""
        try:
            line = input("> ")
            if line.strip() != MULTILINE:
                return line
            lines = [MULTILINE]
            while True:
                more = input("")
                lines.append(more)
                if more.strip() == MULTILINE:
                    return "\n".join(lines)
        except EOFError:
            return None

    def _answer(self) -> None:
        """Print the frames of one answer as they come, up to the end marker."""
        assert self.stream is not None
        self._print("\n")
        printed = ""
        while (frame := _read_frame(self.stream)) is not None:
            self._print(frame)
            printed = frame
        # A blank line between the answer and the next prompt, whatever the answer ended with.
        self._print("" if printed.endswith("\n\n") else "\n" if printed.endswith("\n") else "\n\n")

    def run(self) -> None:
        try:
            import readline  # noqa: F401 - line editing and history for input(), where the platform has it
        except ImportError:
            pass
        self._connect()
        try:
            while True:
                message = self._read_input()
                if message is None:
                    return
                command = message.strip().lower()
                if not command:
                    continue
                if command in (":reconnect", ":r"):
                    self._close()
                    self._connect()
                    continue
                assert self.sock is not None
                try:
                    self.sock.sendall((message + "\n").encode())
                    if command in (":quit", ":q"):
                        return
                    self._answer()
                except (ConnectionLost, OSError) as error:
                    print(f"Failed to read from server ({error}). Reconnecting...", file=self.err, flush=True)
                    self._close()
                    self._connect()
        finally:
            self._close()
