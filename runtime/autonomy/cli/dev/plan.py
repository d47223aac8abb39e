"""What `zone dev` runs: one process per container per clone, with a cluster node's environment.

The plan is pure data (tested without running anything). Each node container gets what the operator
injects in a cluster (DESIGN.md section 3 and the BRIEF's node environment): CLUSTER, ZONE, POD,
NODE=`<zone>-<pod>-<clone>`, POD_IP=127.0.0.1, NAMESPACE, local discovery through one registry
directory shared by the zone, a free gRPC port, and an HTTP port: `--port` for the public pod's main
container, a free port for every other node. `secrets.KEY` values come from secrets.yaml.

Containers built from `images/<name>/` whose Dockerfile runs Python run as local processes with this
Python (`python main.py` by default); any other image runs with Docker. Docker containers join the
host's network, so a pod's containers reach each other on localhost as in Kubernetes (in zone dev,
every pod shares the host's loopback).
"""

from __future__ import annotations

import random
import socket
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autonomy.cli.dev.dockerfile import python_script_argv, read_command
from autonomy.cli.exits import CliError, Exit

DEV_CLUSTER = "local"
DEV_NAMESPACE = "local"
SECRET_PREFIX = "secrets."


@dataclass(frozen=True)
class DevProcess:
    """One container of one clone, ready to start."""

    label: str  # log prefix: <pod>/<container>[<clone>]
    pod: str
    container: str
    clone: int
    argv: list[str]
    cwd: Path | None
    env: dict[str, str]  # added to (process) or passed as (docker) the environment
    docker_image: str | None = None  # set when it runs with Docker
    docker_name: str | None = None
    http_port: int | None = None  # the node's HTTP port, when it is a node container

    @property
    def is_docker(self) -> bool:
        return self.docker_image is not None


@dataclass
class DevPlan:
    zone: str
    processes: list[DevProcess] = field(default_factory=list)
    public_port: int | None = None
    images_to_build: dict[str, Path] = field(default_factory=dict)  # docker tag -> build context

    @property
    def needs_docker(self) -> list[DevProcess]:
        return [p for p in self.processes if p.is_docker]


def free_port(host: str = "127.0.0.1") -> int:
    """A free TCP port outside the kernel's ephemeral range.

    Nodes bind their gRPC port with 0 (an ephemeral port) while zone dev hands out HTTP ports ahead
    of time; picking those below the ephemeral range means no node's gRPC port can take one of them
    in between.
    """
    low = _ephemeral_low()
    for _ in range(100):
        port = random.randint(max(1024, low - 12000), low - 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        fallback: int = sock.getsockname()[1]
        return fallback


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def make_plan(
    spec: Any,
    root: Path,
    *,
    secrets: Mapping[str, str],
    registry_dir: Path,
    port: int = 8000,
    host: str = "127.0.0.1",
    python: str = sys.executable,
    extra_env: Mapping[str, str] | None = None,
    port_picker: Any = free_port,
) -> DevPlan:
    zone = str(spec.name)
    plan = DevPlan(zone=zone)
    problems: list[str] = []
    pods = list(spec.pods)
    public_main = _public_main(pods)
    for pod_index, pod in enumerate(pods):
        clones = int(getattr(pod, "clones", None) or 1)
        for clone in range(clones):
            node = f"{zone}-{pod.name}-{clone}"
            for c_index, container in enumerate(pod.containers):
                where = f"pods[{pod_index}].containers[{c_index}]"
                env = _container_env(container, secrets, where, problems)
                image = str(container.image)
                args = _args(container)
                label = f"{pod.name}/{container.name}" + (f"[{clone}]" if clones > 1 else "")
                base_env = {
                    "CLUSTER": DEV_CLUSTER,
                    "ZONE": zone,
                    "POD": str(pod.name),
                    "NODE": node,
                    "POD_IP": "127.0.0.1",
                    "NAMESPACE": DEV_NAMESPACE,
                    "AUTONOMY_DISCOVERY": "local",
                    "AUTONOMY_REGISTRY_DIR": str(registry_dir),
                    "AUTONOMY_TRANSPORT_PORT": "0",
                    "PYTHONUNBUFFERED": "1",
                    **(extra_env or {}),
                }
                is_main = (pod_index, c_index, clone) == public_main
                if "/" in image:  # a remote image: Docker runs it as it is
                    plan.processes.append(
                        DevProcess(
                            label=label,
                            pod=str(pod.name),
                            container=str(container.name),
                            clone=clone,
                            argv=list(args or []),
                            cwd=None,
                            env={**base_env, **env},
                            docker_image=image,
                            docker_name=_docker_name(node, str(container.name)),
                        )
                    )
                    continue
                image_dir = root / "images" / image
                dockerfile = image_dir / "Dockerfile"
                http_port = port if is_main else port_picker(host)
                node_env = {
                    **base_env,
                    "DEFAULT_HOST_HTTP": host,
                    "DEFAULT_PORT_HTTP": str(http_port),
                    **env,
                }
                if is_main:
                    plan.public_port = http_port
                if not image_dir.is_dir():
                    problems.append(
                        f"{where}.image: local image {image!r} needs the folder {image_dir} "
                        "(an image name with no '/' is built from images/<name>/)"
                    )
                    continue
                argv = _local_argv(dockerfile, image_dir, args, python)
                if argv is not None:
                    plan.processes.append(
                        DevProcess(
                            label=label,
                            pod=str(pod.name),
                            container=str(container.name),
                            clone=clone,
                            argv=argv,
                            cwd=image_dir,
                            env=node_env,
                            http_port=http_port,
                        )
                    )
                    continue
                if not dockerfile.exists():
                    problems.append(f"{where}.image: {image_dir} has neither main.py nor a Dockerfile")
                    continue
                tag = f"autonomy-dev-{zone}-{image}"
                plan.images_to_build[tag] = image_dir
                plan.processes.append(
                    DevProcess(
                        label=label,
                        pod=str(pod.name),
                        container=str(container.name),
                        clone=clone,
                        argv=list(args or []),
                        cwd=None,
                        env=node_env,
                        docker_image=tag,
                        docker_name=_docker_name(node, str(container.name)),
                        http_port=http_port,
                    )
                )
    if problems:
        raise CliError("cannot run this zone locally", Exit.CONFIG, details=problems)
    return plan


def _public_main(pods: list[Any]) -> tuple[int, int, int] | None:
    """(pod, container, clone) whose HTTP port is --port: the public pod's `main` container (or its
    first local-image container), clone 0. Without a public pod, the pod named main-pod."""
    candidates = [i for i, p in enumerate(pods) if getattr(p, "public", False)]
    if not candidates:
        candidates = [i for i, p in enumerate(pods) if p.name == "main-pod"] or (
            [0] if len(pods) == 1 else []
        )
    for pod_index in candidates:
        containers = list(pods[pod_index].containers)
        local = [i for i, c in enumerate(containers) if "/" not in str(c.image)]
        named = [i for i in local if containers[i].name == "main"]
        if named or local:
            return (pod_index, (named or local)[0], 0)
    return None


def _local_argv(dockerfile: Path, image_dir: Path, args: list[str] | None, python: str) -> list[str] | None:
    """The local command for a node image, or None when it must run with Docker."""
    if dockerfile.exists():
        command = read_command(dockerfile).argv(args)
        script = python_script_argv(command)
        if script is not None:
            return [python, *script]
        if command:
            return None
    if (image_dir / "main.py").exists():
        return [python, "main.py", *(args or [])]
    return None


def _args(container: Any) -> list[str] | None:
    """The pod spec's args, or None when it sets none (then the image's CMD applies)."""
    args = getattr(container, "args", None)
    return [str(a) for a in args] if args else None


def _container_env(
    container: Any, secrets: Mapping[str, str], where: str, problems: list[str]
) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in _env_items(getattr(container, "env", None)):
        if isinstance(value, str) and value.startswith(SECRET_PREFIX):
            key = value[len(SECRET_PREFIX) :]
            if key not in secrets:
                problems.append(
                    f"{where}.env.{name}: secret {key!r} is not in secrets.yaml "
                    f"(add `{key}: <value>` to secrets.yaml or pass --secrets PATH)"
                )
                continue
            env[name] = secrets[key]
        else:
            env[name] = "" if value is None else str(value)
    return env


def _env_items(env: Any) -> Iterable[tuple[str, Any]]:
    """Env as (name, value) pairs, whichever shape the spec model keeps it in."""
    if env is None:
        return []
    if isinstance(env, Mapping):
        return [(str(k), v) for k, v in env.items()]
    items: list[tuple[str, Any]] = []
    for entry in env:
        if isinstance(entry, Mapping):
            if "name" in entry and set(entry) <= {"name", "value"}:
                items.append((str(entry["name"]), entry.get("value")))
            else:
                items.extend((str(k), v) for k, v in entry.items())
        else:  # a model object with name/value
            items.append((str(entry.name), getattr(entry, "value", None)))
    return items


def _docker_name(node: str, container: str) -> str:
    return f"autonomy-dev-{node}-{container}"
