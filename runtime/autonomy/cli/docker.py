"""The Docker CLI, as the commands use it: is an engine there, build, tag, push, load into kind or
into the containerd of a local node.

We drive the `docker` program (not an SDK): it is what users have, it honours their contexts and
credential helpers, and it is a dependency-free way to build with the engine's own builder.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from autonomy.cli.exits import CliError, Exit

DOCKER = "docker"


def available() -> bool:
    if shutil.which(DOCKER) is None:
        return False
    result = subprocess.run(
        [DOCKER, "info", "--format", "{{.ServerVersion}}"], capture_output=True, check=False
    )
    return result.returncode == 0


def require() -> None:
    if shutil.which(DOCKER) is None:
        raise CliError("docker is not installed: install Docker to build images", Exit.DOCKER)
    if not available():
        raise CliError("no Docker engine answers: start Docker (dockerd) and try again", Exit.DOCKER)


def build(
    tag: str,
    context: Path,
    *,
    dockerfile: Path | None = None,
    build_args: dict[str, str] | None = None,
    no_cache: bool = False,
    quiet: bool = True,
) -> None:
    argv = [DOCKER, "build", "-t", tag]
    if dockerfile is not None:
        argv += ["-f", str(dockerfile)]
    for key, value in (build_args or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    if no_cache:
        argv.append("--no-cache")
    argv.append(str(context))
    _run(argv, f"docker build of {tag} from {context} failed", quiet=quiet)


def image_exists(tag: str) -> bool:
    return subprocess.run([DOCKER, "image", "inspect", tag], capture_output=True, check=False).returncode == 0


def image_id(tag: str) -> str:
    result = subprocess.run(
        [DOCKER, "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def tag(source: str, target: str) -> None:
    _run([DOCKER, "tag", source, target], f"docker tag {source} {target} failed")


def push(ref: str) -> None:
    _run([DOCKER, "push", ref], f"docker push {ref} failed (is the registry reachable, are you logged in?)")


def kind_load(ref: str, kind_cluster: str) -> None:
    if shutil.which("kind") is None:
        raise CliError("the context is a kind cluster but `kind` is not installed", Exit.DOCKER)
    _run(["kind", "load", "docker-image", ref, "--name", kind_cluster], f"kind load of {ref} failed")


def containerd_import(ref: str, address: str, namespace: str = "k8s.io", ctr: str = "ctr") -> None:
    """`docker save REF | ctr images import -` into the containerd at `address` (a local node's)."""
    if shutil.which(ctr) is None:
        raise CliError(
            f"the context's node runs containerd at {address} but `{ctr}` is not installed",
            Exit.DOCKER,
            details=["install containerd's client (Debian package `containerd`)"],
        )
    if not Path(address).exists():
        raise CliError(
            f"the context names a local containerd at {address}, which does not exist",
            Exit.DOCKER,
            details=["is the local node running? (`make cluster-up REAL_NODES=1`)"],
        )
    with subprocess.Popen([DOCKER, "save", ref], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as save:
        assert save.stdout is not None and save.stderr is not None
        imported = subprocess.run(
            [ctr, "--address", address, "--namespace", namespace, "images", "import", "-"],
            stdin=save.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        if imported.returncode != 0:
            save.kill()  # ctr stopped reading: docker save would block on a full pipe
        save_err = save.stderr.read().decode(errors="replace")
    if save.returncode != 0:
        raise CliError(f"docker save {ref} failed", Exit.DOCKER, details=save_err.strip().splitlines()[-15:])
    if imported.returncode != 0:
        raise CliError(
            f"importing {ref} into the containerd at {address} failed",
            Exit.DOCKER,
            details=(imported.stderr or imported.stdout).strip().splitlines()[-15:],
        )


def _run(argv: Sequence[str], failure: str, *, quiet: bool = True) -> None:
    result = subprocess.run(list(argv), capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout or "").strip().splitlines()[-15:] if quiet else []
        raise CliError(failure, Exit.DOCKER, details=tail)
