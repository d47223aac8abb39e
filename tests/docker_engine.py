"""Session fixtures for tests that need a real Docker engine (marker `docker`).

`docker_engine` runs hack/docker/setup.sh (installs docker.io and debootstrap when missing, starts
dockerd, makes the debootstrap base image) and returns what tests need. Outside CI, a machine where
that cannot work skips these tests with the reason; in CI (CI=true) they fail instead: the image tier
must run there. `node_image` builds images/node/Dockerfile on the debootstrap base, from wheels built
on the host (cached by the hash of pyproject.toml and the framework's sources).

Registered from tests/conftest.py (`pytest_plugins`), so any test directory can request them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "hack" / "docker" / "setup.sh"
BASE_IMAGE = os.environ.get("AUTONOMY_TEST_BASE_IMAGE", "autonomy-test/bookworm-python:3.11")
CACHE = Path(os.environ.get("AUTONOMY_CACHE_DIR", Path.home() / ".cache" / "autonomy"))


@dataclass(frozen=True)
class DockerEngine:
    base_image: str  # the debootstrap Python base: pass as BASE_IMAGE to builds
    setup_seconds: float

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(scope="session")
def docker_engine() -> DockerEngine:
    started = time.monotonic()
    result = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = f"Docker engine setup failed:\n{result.stderr[-3000:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return DockerEngine(base_image=BASE_IMAGE, setup_seconds=time.monotonic() - started)


def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted([ROOT / "pyproject.toml", *(ROOT / "runtime").rglob("*.py")]):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The framework and its dependencies as wheels, built on the host (which has network and TLS)."""
    from autonomy.cli.images import NODE_EXTRAS

    target = CACHE / "wheels" / _source_hash()
    if not (target / ".complete").exists():
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("autonomy_computer-*.whl"):
            old.unlink()
        subprocess.run(
            # The build backend too: the operator image installs the project from source, offline.
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(target), f"{ROOT}[{NODE_EXTRAS}]",
             "setuptools>=77", "wheel"],
            check=True, timeout=900,
        )
        (target / ".complete").touch()
    return target


def _older_than_a_day(created: str) -> bool:
    """`docker image ls`'s CreatedAt ("2026-12-01 21:58:22 +0000 UTC"); unparsable counts as recent."""
    try:
        when = datetime.strptime(" ".join(created.split()[:3]), "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return False
    return datetime.now(UTC) - when > timedelta(days=1)


@pytest.fixture(scope="session")
def node_image(docker_engine: DockerEngine, wheelhouse: Path) -> Iterator[str]:
    """images/node/Dockerfile built on the debootstrap base: the tag to use as NODE_IMAGE."""
    from autonomy.cli.images import build_node_image

    # The Dockerfile is part of the tag: an edit of it alone must rebuild the image.
    dockerfile = hashlib.sha256((ROOT / "images" / "node" / "Dockerfile").read_bytes()).hexdigest()[:8]
    tag = f"autonomy/node:test-{_source_hash()}-{dockerfile}"
    # Node images of earlier sources (and what was built on them) only take disk space: drop them, once
    # they are a day old, so that a test run in another checkout keeps the image it is using.
    listed = docker_engine.run("image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.CreatedAt}}",
                               check=False).stdout.splitlines()
    ours = ("autonomy/node:test-", "autonomy.local/")
    stale = [ref for ref, created in (line.split(" ", 1) for line in listed if " " in line)
             if ref != tag and ref.startswith(ours) and _older_than_a_day(created)]
    if stale:
        docker_engine.run("image", "rm", "-f", *stale, check=False)
        docker_engine.run("image", "prune", "-f", check=False)
    if docker_engine.run("image", "inspect", tag, check=False).returncode != 0:
        build_node_image(tag, base_image=docker_engine.base_image, wheels=wheelhouse, source=ROOT)
    yield tag
