"""Docker for `zone dev`'s pods: the zone's network, a sandbox per pod clone, containers that join it.

As in Kubernetes, where a pause container holds each pod's network namespace, each pod clone gets a
sandbox container (the node image running `sleep infinity`) on the zone's own network; it publishes
the node's port 8000 on the host, and every container of the pod runs with `--network
container:<sandbox>`: one localhost per pod, one address per pod. Everything this creates carries the
run's labels (and zone dev's pid), so a stop removes exactly this run's containers and network, and
a later run removes what a run killed with SIGKILL left behind.

Environment values reach `docker run` through its own environment (`-e NAME` without a value), so
secrets never show in `ps`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from autonomy.cli.dev.plan import POD_HTTP_PORT, DevPod, DevProcess

RUN_LABEL = "autonomy.computer/dev-run"
OWNER_LABEL = "autonomy.computer/dev-owner"  # the pid of the zone dev that made it
ZONE_LABEL = "autonomy.computer/zone"
POD_LABEL = "autonomy.computer/pod"
#: Where pods reach services of the host (a model server, say), as Docker Desktop names it.
HOST_ALIAS = "host.docker.internal"


@dataclass(frozen=True)
class DockerRun:
    """What the Docker commands of one `zone dev` run share."""

    zone: str
    run_id: str
    network: str
    pause_image: str  # the sandbox's image: it needs only `sleep`
    registry_dir: Path  # bind-mounted at the same path into containers built on the node image
    ca_dir: Path | None = None  # the run's zone CA: bind-mounted read-only at the same path, into the same ones
    publish_host: str = "127.0.0.1"  # the host address published ports bind
    docker: str = "docker"
    owner: int = field(default_factory=os.getpid)
    #: Containers that write to the registry run as its owner.
    user: str = field(default_factory=lambda: f"{os.getuid()}:{os.getgid()}")

    def labels(self, pod: str | None = None) -> list[str]:
        labels = {RUN_LABEL: self.run_id, OWNER_LABEL: str(self.owner), ZONE_LABEL: self.zone}
        if pod is not None:
            labels[POD_LABEL] = pod
        return [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]

    def network_create_argv(self) -> list[str]:
        return [self.docker, "network", "create", *self.labels(), self.network]

    def sandbox_argv(self, pod: DevPod) -> list[str]:
        assert pod.sandbox is not None
        argv = [self.docker, "run", "--rm", "--init", "--name", pod.sandbox, "--network", self.network]
        argv += [*self.labels(pod.pod), "--add-host", f"{HOST_ALIAS}:host-gateway"]
        if pod.http_port is not None:
            argv += ["--publish", f"{self.publish_host}:{pod.http_port}:{POD_HTTP_PORT}"]
        return [*argv, "--entrypoint", "sleep", self.pause_image, "infinity"]

    def container_argv(self, process: DevProcess, pod_ip: str) -> tuple[list[str], dict[str, str]]:
        """`docker run` of a container of a pod, and the environment to run it with."""
        assert process.sandbox is not None and process.docker_image is not None
        argv = [self.docker, "run", "--rm", "--init", "--name", str(process.docker_name)]
        argv += ["--network", f"container:{process.sandbox}", *self.labels(process.pod)]
        if process.mounts_registry:
            registry = str(self.registry_dir)
            # The registry is shared with the host's nodes; /workspace is the emptyDir a cluster gives nodes.
            argv += ["--volume", f"{registry}:{registry}", "--user", self.user, "--tmpfs", "/workspace:mode=1777"]
            if self.ca_dir is not None:  # 0600 files of this user: the container runs as this user
                argv += ["--volume", f"{self.ca_dir}:{self.ca_dir}:ro"]
        env = {**process.env, "POD_IP": pod_ip}
        for name in env:
            argv += ["--env", name]
        return [*argv, process.docker_image, *process.argv], env


async def run_docker(*argv: str, timeout: float = 60) -> tuple[int, str]:
    """Run a docker command; (exit code, stdout and stderr)."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return 124, f"{' '.join(argv[:3])} timed out"
    return process.returncode or 0, out.decode(errors="replace").strip()


async def create_network(run: DockerRun) -> str:
    """Create the zone's network; its gateway address (the host's address on it)."""
    code, out = await run_docker(*run.network_create_argv())
    if code != 0:
        raise RuntimeError(f"docker network create {run.network} failed: {out}")
    code, out = await run_docker(
        run.docker, "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", run.network
    )
    gateway = out.split()[0] if code == 0 and out.split() else ""
    if not gateway:
        raise RuntimeError(f"docker network {run.network} has no gateway address: {out}")
    return gateway


async def sandbox_address(run: DockerRun, sandbox: str, timeout: float = 30) -> str | None:
    """The sandbox's address on the zone network once it runs, or None if it does not within `timeout`."""
    template = (
        f'{{{{if .State.Running}}}}{{{{with index .NetworkSettings.Networks "{run.network}"}}}}'
        "{{.IPAddress}}{{end}}{{end}}"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, out = await run_docker(run.docker, "inspect", "--format", template, sandbox)
        if code == 0 and out:
            return out
        await asyncio.sleep(0.1)
    return None


async def remove_containers(run: DockerRun, names: list[str] | None = None) -> None:
    """Remove the named containers, or every container of the run."""
    if names is None:
        code, out = await run_docker(run.docker, "ps", "-aq", "--filter", f"label={RUN_LABEL}={run.run_id}")
        names = out.split() if code == 0 else []
    if names:
        await run_docker(run.docker, "rm", "-f", *names)


async def remove_run(run: DockerRun) -> None:
    """Remove every container of the run, then its network."""
    await remove_containers(run)
    await run_docker(run.docker, "network", "rm", run.network)


async def reap_leftovers(docker_program: str = "docker") -> list[str]:
    """Remove containers and networks of zone dev runs whose zone dev is gone; what was removed."""
    removed: list[str] = []
    for kind in ("container", "network"):
        listing = [docker_program, kind, "ls", "--filter", f"label={OWNER_LABEL}"]
        listing += ["--format", f'{{{{.ID}}}} {{{{.Label "{OWNER_LABEL}"}}}}']
        if kind == "container":
            listing.insert(3, "-a")
        code, out = await run_docker(*listing)
        if code != 0:
            continue
        dead = [ident for ident, _, owner in (line.partition(" ") for line in out.splitlines()) if not _alive(owner)]
        if dead:
            await run_docker(docker_program, kind, "rm", *(["-f"] if kind == "container" else []), *dead)
            removed += dead
    return removed


def _alive(pid: str) -> bool:
    with contextlib.suppress(ValueError):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return True  # not ours to judge
