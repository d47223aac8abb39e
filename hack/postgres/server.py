#!/usr/bin/env python3
"""A throwaway PostgreSQL server on loopback, for the tests, the store benchmark and contributors.

Why: the PostgreSQL long-term memory store is tested against a real server, not a mock, and no container
image can be pulled here, so the server is Debian's own binaries (installed by ``hack/postgres/setup.sh``)
run as a plain process: ``initdb`` into a fresh temporary directory, then ``postgres`` on a free port of
127.0.0.1, trusting local connections of the superuser ``autonomy``. Nothing of the machine's own clusters
is touched. PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` user (the
Debian package creates it; ``nobody`` otherwise). The server gets SIGQUIT if its parent dies, even by
SIGKILL, so a killed test run leaves no server behind.

Only the standard library is needed, so ``python3 hack/postgres/server.py`` works without the venv::

    server.py [--durable]   start one, print its URL, stop it on Ctrl-C or SIGTERM
    server.py --check       start one and stop it (what setup.sh does after installing)
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUPERUSER = "autonomy"
DIR_PREFIX = "autonomy-postgres-"
OWNER_FILE = "owner.pid"  # the pid of the process that started the server in that directory


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the server did not start; the message says what to do."""


def find_bindir() -> Path | None:
    """Where initdb, postgres and pg_ctl are: $AUTONOMY_POSTGRES_BIN, PATH, else Debian's newest version."""
    explicit = os.environ.get("AUTONOMY_POSTGRES_BIN")
    candidates = [Path(explicit)] if explicit else []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    # Debian keeps the server binaries off PATH, one directory per major version.
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(versions, key=lambda p: int(re.sub(r"\D", "", p) or 0), reverse=True)]
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    return None


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run as when we are root (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("AUTONOMY_POSTGRES_USER"), "postgres", "nobody"):
        if name:
            with contextlib.suppress(KeyError):
                return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and no `postgres` or `nobody` user to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, after its user switch (which clears the setting): SIGQUIT, an immediate shutdown,
    when the parent dies, even by SIGKILL (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG


class TemporaryPostgres:
    """One server in its own temporary directory: `start()`, use `url`, `stop()` (which deletes it all).

    `durable=False` (the tests) turns fsync and synchronous commit off: faster, and a crash loses nothing
    that matters. The benchmark keeps PostgreSQL's durable defaults, to compare honestly with SQLite.
    """

    def __init__(self, durable: bool = False, bindir: Path | None = None) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise PostgresUnavailable(
                "no PostgreSQL server binaries (initdb, postgres): run hack/postgres/setup.sh, "
                "or point AUTONOMY_POSTGRES_BIN at their directory"
            )
        self.bindir = found
        self.durable = durable
        self.user = _server_user()
        self.port = 0
        self.dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def version(self) -> str:
        return subprocess.run(
            [str(self.bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()

    def _run_as(self) -> tuple[int | None, int | None, list[int] | None]:
        """subprocess's user, group and extra_groups: the server user's when we are root, else ours."""
        if self.user is None:
            return None, None, None
        return self.user.pw_uid, self.user.pw_gid, []

    def start(self, timeout: float = 30.0) -> TemporaryPostgres:
        _remove_orphans()
        self.dir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
        (self.dir / OWNER_FILE).write_text(str(os.getpid()))
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        data = self.dir / "data"
        uid, gid, groups = self._run_as()
        initdb = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            cwd=self.dir,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
        if initdb.returncode != 0:
            self.stop()
            raise PostgresUnavailable(f"initdb failed ({initdb.returncode}): {initdb.stderr.strip()[-2000:]}")
        errors = []
        for _ in range(3):  # the free port may be taken between picking it and binding it
            try:
                self._launch(data, _free_port(), timeout)
                return self
            except PostgresUnavailable as error:
                errors.append(str(error))
        self.stop()
        raise PostgresUnavailable("the server did not start: " + "\n(retry) ".join(errors))

    def restart(self, timeout: float = 30.0) -> None:
        """Stop the server ("fast": clients are disconnected) and start it again on the same port and data."""
        assert self.dir is not None, "not started"
        self._terminate()
        self._launch(self.dir / "data", self.port, timeout)

    def _launch(self, data: Path, port: int, timeout: float) -> None:
        assert self.dir is not None
        self.port = port
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.dir),
            "shared_buffers": "32MB",  # a shared machine: the default 128MB is more than tests need
            "max_connections": "200",
        }
        if not self.durable:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        args = [str(self.bindir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        log_path = self.dir / "server.log"
        uid, gid, groups = self._run_as()
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.dir,
                preexec_fn=_die_with_parent,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if _ready(data / "postmaster.pid"):
                return
            time.sleep(0.05)
        self._terminate()
        tail = log_path.read_text(errors="replace").strip().splitlines()[-15:]
        raise PostgresUnavailable(
            f"postgres on port {self.port} did not become ready; its log ends:\n" + "\n".join(tail)
        )

    def _terminate(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: disconnect clients, stop
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def stop(self) -> None:
        self._terminate()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _remove_orphans() -> None:
    """Delete the directories of servers whose starter died by SIGKILL (its server died with it)."""
    for owner in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*/{OWNER_FILE}"):
        try:
            os.kill(int(owner.read_text()), 0)
        except ProcessLookupError:
            shutil.rmtree(owner.parent, ignore_errors=True)
        except (OSError, ValueError):
            continue


def _ready(pid_file: Path) -> bool:
    """postgres writes its status on the eighth line of postmaster.pid; "ready" means it takes connections."""
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--durable", action="store_true", help="keep fsync and synchronous commit on")
    parser.add_argument("--check", action="store_true", help="start a server and stop it at once")
    options = parser.parse_args()
    try:
        server = TemporaryPostgres(durable=options.durable).start()
    except PostgresUnavailable as error:
        print(f"postgres: {error}", file=sys.stderr)
        return 1
    try:
        if options.check:
            print(f"{server.version()}: starts and stops", file=sys.stderr)
            return 0
        print(server.url, flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
