"""A program on a real pseudo-terminal, as a user runs it: keys typed in, screen output read as it comes."""

from __future__ import annotations

import os
import select
import subprocess
import time


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                        start_new_session=True)
        os.close(slave)
        self.master = master
        self.screen = ""  # everything printed so far
        self.seen = 0  # how far `expect` has read

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the program exited and the pty closed
            return False
        self.screen += data.decode(errors="replace").replace("\r\n", "\n")
        return bool(data)

    def expect(self, text: str, timeout: float = 30) -> float:
        """Wait for `text` after what was already expected; returns the time it appeared (monotonic)."""
        deadline = time.monotonic() + timeout
        while text not in self.screen[self.seen:]:
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 0.5)) and self.process.poll() is not None):
                raise AssertionError(f"{text!r} not on the terminal after {timeout}s; it shows:\n{self.screen}")
        self.seen = self.screen.index(text, self.seen) + len(text)
        return time.monotonic()

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def send_eof(self) -> None:
        os.write(self.master, b"\x04")

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        return self.process.wait(timeout=1)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
