"""What `zone dev` runs: each clone of each pod, its containers, and the environment a cluster gives them.

The plan is pure data (tested without running anything). Every container gets what the operator
injects in a cluster (docs/design.md section 3): CLUSTER, ZONE, POD, NODE=`<zone>-<pod>-<clone>`, POD_IP,
NAMESPACE, local discovery through one registry directory shared by the zone, and the run's zone CA
(AUTONOMY_DEV_CA_DIR), with which each node signs its own certificate. `secrets.KEY` values
come from secrets.yaml; `-e KEY=VALUE` (extra_env) overrides all of it.

A pod clone runs in one of two ways:

- **Local processes** (the default, fast, no Docker): when every container of the pod is built from
  `images/<name>/` with a Dockerfile that runs Python (or only a main.py). Containers run with this
  Python and share the host's loopback, so they reach each other on localhost. The pod's node gets a
  free HTTP port (the public pod's gets `--port`) and a free gRPC port.
- **Docker** (when some container needs it, an image like `ghcr.io/...` or a Dockerfile that does
  not run Python, or with `--docker`): the pod is one network namespace, as in Kubernetes. A
  sandbox container (the node image running `sleep infinity`, like Kubernetes' pause container)
  owns it and publishes the node's port 8000 on the host; every container of the pod joins it, so
  they reach each other on localhost and clones never collide on ports. Containers built from
  `images/<name>/` are built on the node image as `zone deploy` builds them, and nodes listen on
  8000 and 50051 as in a cluster. POD_IP is the sandbox's address, known once it runs.

Nodes of Docker pods and of local pods find each other through the registry directory (bind-mounted
into containers) and talk gRPC across the zone's Docker network: local nodes of such a zone listen on
the network's gateway address, which containers reach and which is the host's own.
"""

from __future__ import annotations

import dataclasses
import random
import socket
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autonomy.cli.dev.dockerfile import python_script_argv, read_command
from autonomy.cli.exits import CliError, Exit

DEV_CLUSTER = "local"
DEV_NAMESPACE = "local"
#: The run's zone CA directory (autonomy.identity.dev_authority.ENV_NAME; not imported: plans stay light).
DEV_CA_ENV = "AUTONOMY_DEV_CA_DIR"
SECRET_PREFIX = "secrets."
#: Where a node of a Docker pod listens, as in a cluster (the operator's HTTP_PORT and TRANSPORT_PORT).
POD_HTTP_PORT = 8000
POD_TRANSPORT_PORT = 50051
#: The Dockerfile of an image folder with only a main.py, when its pod runs in Docker.
DEFAULT_DOCKERFILE = 'ARG NODE_IMAGE\nFROM ${NODE_IMAGE}\nCOPY . .\nENTRYPOINT ["python", "main.py"]\n'


@dataclass(frozen=True)
class DevProcess:
    """One container of one clone, ready to start."""

    label: str  # log prefix: <pod>/<container>[<clone>]
    pod: str
    container: str
    clone: int
    argv: list[str]  # the command (local) or the args after the image (Docker)
    cwd: Path | None
    env: dict[str, str]  # added to (process) or passed as (docker) the environment
    docker_image: str | None = None  # set when it runs with Docker
    docker_name: str | None = None
    http_port: int | None = None  # the node's HTTP port on the host, when it is the pod's node
    sandbox: str | None = None  # the sandbox container whose network namespace it joins
    mounts_registry: bool = False  # a container built on the node image: it may be a node

    @property
    def is_docker(self) -> bool:
        return self.docker_image is not None


@dataclass(frozen=True)
class DevPod:
    """One clone of one pod: what Kubernetes runs as one pod."""

    pod: str
    clone: int
    label: str  # <pod>[<clone>]
    processes: list[DevProcess]
    sandbox: str | None = None  # Docker pods: the container that owns the network namespace
    http_port: int | None = None  # the node's HTTP port on the host (published from the sandbox)

    @property
    def in_docker(self) -> bool:
        return self.sandbox is not None


@dataclass(frozen=True)
class ImageBuild:
    context: Path
    dockerfile: str | None = None  # the Dockerfile's text when the folder has none


@dataclass
class DevPlan:
    zone: str
    run_id: str = ""  # names this run's containers and network
    pods: list[DevPod] = field(default_factory=list)
    public_port: int | None = None
    images_to_build: dict[str, ImageBuild] = field(default_factory=dict)  # docker tag -> build

    @property
    def processes(self) -> list[DevProcess]:
        return [p for pod in self.pods for p in pod.processes]

    @property
    def needs_docker(self) -> list[DevProcess]:
        return [p for p in self.processes if p.is_docker]

    @property
    def network(self) -> str | None:
        """The zone's Docker network, when some pod runs in Docker."""
        return f"autonomy-dev-{self.zone}-{self.run_id}" if any(p.in_docker for p in self.pods) else None

    def on_network(self, gateway: str) -> DevPlan:
        """The plan with local nodes listening on the zone network's gateway, so containers reach them."""
        where = {"POD_IP": gateway, "AUTONOMY_TRANSPORT_HOST": gateway}
        pods = [
            pod
            if pod.in_docker
            else dataclasses.replace(
                pod, processes=[dataclasses.replace(p, env={**p.env, **where}) for p in pod.processes]
            )
            for pod in self.pods
        ]
        return dataclasses.replace(self, pods=pods)


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


@dataclass(frozen=True)
class _Container:
    """A container of the spec, classified: how it would run on its own."""

    name: str
    image: str
    env: dict[str, str]
    args: list[str] | None
    image_dir: Path | None  # local images
    local_argv: list[str] | None  # set when it can run as a local process
    is_node: bool


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
    docker: bool = False,
    run_id: str | None = None,
    ca_dir: Path | None = None,
) -> DevPlan:
    """The plan of `spec`; `docker=True` runs every pod in Docker (as `--docker` asks); `ca_dir` is the
    run's zone CA (identity/dev_authority.py), handed to every container."""
    zone = str(spec.name)
    plan = DevPlan(zone=zone, run_id=run_id or uuid.uuid4().hex[:8])
    problems: list[str] = []
    pods = list(spec.pods)
    public = _public_pod(pods)
    for pod_index, pod in enumerate(pods):
        node_spec = getattr(pod, "node_container", None)
        containers = [
            _classify(c, c is node_spec, root, secrets, python, f"pods[{pod_index}].containers[{i}]", problems)
            for i, c in enumerate(pod.containers)
        ]
        in_docker = docker or any(c.local_argv is None for c in containers)
        clones = int(getattr(pod, "clones", None) or 1)
        for clone in range(clones):
            is_public = pod_index == public and clone == 0
            args = _PodArgs(zone, str(pod.name), clone, clones, registry_dir, dict(extra_env or {}), ca_dir)
            if in_docker:
                http_port = (port if is_public else port_picker(host)) if node_spec is not None else None
                dev_pod = _docker_pod(args, containers, http_port, plan, problems)
            else:
                dev_pod = _local_pod(args, containers, port if is_public else None, host, port_picker)
            plan.pods.append(dev_pod)
            if is_public:
                plan.public_port = dev_pod.http_port
    if problems:
        raise CliError("cannot run this zone locally", Exit.CONFIG, details=problems)
    return plan


@dataclass(frozen=True)
class _PodArgs:
    zone: str
    pod: str
    clone: int
    clones: int
    registry_dir: Path
    extra_env: dict[str, str]
    ca_dir: Path | None = None

    @property
    def node(self) -> str:
        return f"{self.zone}-{self.pod}-{self.clone}"

    def label(self, container: str | None = None) -> str:
        base = self.pod if container is None else f"{self.pod}/{container}"
        return base + (f"[{self.clone}]" if self.clones > 1 else "")

    def base_env(self) -> dict[str, str]:
        env = {
            "CLUSTER": DEV_CLUSTER,
            "ZONE": self.zone,
            "POD": self.pod,
            "NODE": self.node,
            "NAMESPACE": DEV_NAMESPACE,
            "AUTONOMY_DISCOVERY": "local",
            "AUTONOMY_REGISTRY_DIR": str(self.registry_dir),
            "PYTHONUNBUFFERED": "1",
        }
        if self.ca_dir is not None:
            env[DEV_CA_ENV] = str(self.ca_dir)
        return env

    def process(self, container: str, **how: Any) -> DevProcess:
        """One of this clone's containers; `how` says how it runs (argv, env, Docker image...)."""
        return DevProcess(label=self.label(container), pod=self.pod, container=container, clone=self.clone, **how)


def _local_pod(
    args: _PodArgs, containers: list[_Container], public_port: int | None, host: str, port_picker: Any
) -> DevPod:
    processes: list[DevProcess] = []
    http_port: int | None = None
    for c in containers:
        assert c.local_argv is not None and c.image_dir is not None
        # Every local container gets its own HTTP port: they share the host's loopback.
        port = public_port if c.is_node and public_port is not None else port_picker(host)
        if c.is_node:
            http_port = port
        env = {
            **args.base_env(),
            "POD_IP": "127.0.0.1",
            "AUTONOMY_TRANSPORT_PORT": "0",
            "DEFAULT_HOST_HTTP": host,
            "DEFAULT_PORT_HTTP": str(port),
            **c.env,
            **args.extra_env,
        }
        processes.append(
            args.process(c.name, argv=c.local_argv, cwd=c.image_dir, env=env, http_port=port if c.is_node else None)
        )
    return DevPod(args.pod, args.clone, args.label(), processes, http_port=http_port)


def _docker_pod(
    args: _PodArgs, containers: list[_Container], http_port: int | None, plan: DevPlan, problems: list[str]
) -> DevPod:
    sandbox = f"autonomy-dev-{args.zone}-{args.pod}-{args.clone}-{plan.run_id}"
    processes: list[DevProcess] = []
    for c in containers:
        env = args.base_env()  # POD_IP: the sandbox's address, added when it runs
        image = c.image
        if c.image_dir is not None:
            image = f"autonomy-dev-{args.zone}-{c.image}"
            dockerfile = c.image_dir / "Dockerfile"
            plan.images_to_build[image] = ImageBuild(c.image_dir, None if dockerfile.exists() else DEFAULT_DOCKERFILE)
        if c.is_node:
            env |= {
                "DEFAULT_HOST_HTTP": "0.0.0.0",
                "DEFAULT_PORT_HTTP": str(POD_HTTP_PORT),
                "AUTONOMY_TRANSPORT_HOST": "0.0.0.0",
                "AUTONOMY_TRANSPORT_PORT": str(POD_TRANSPORT_PORT),
            }
        processes.append(
            args.process(
                c.name,
                argv=list(c.args or []),
                cwd=None,
                env={**env, **c.env, **args.extra_env},
                docker_image=image,
                docker_name=f"autonomy-dev-{args.zone}-{args.pod}-{args.clone}-{c.name}-{plan.run_id}",
                http_port=http_port if c.is_node else None,
                sandbox=sandbox,
                mounts_registry=c.image_dir is not None,
            )
        )
    return DevPod(args.pod, args.clone, args.label(), processes, sandbox=sandbox, http_port=http_port)


def _classify(
    container: Any,
    is_node: bool,
    root: Path,
    secrets: Mapping[str, str],
    python: str,
    where: str,
    problems: list[str],
) -> _Container:
    name, image, args = str(container.name), str(container.image), _args(container)
    env = _container_env(container, secrets, where, problems)
    if "/" in image:  # a remote image: Docker runs it as it is
        return _Container(name, image, env, args, None, None, is_node=False)
    image_dir = root / "images" / image
    local_argv: list[str] | None = None
    if not image_dir.is_dir():
        problems.append(
            f"{where}.image: local image {image!r} needs the folder {image_dir} "
            "(an image name with no '/' is built from images/<name>/)"
        )
        local_argv = []  # reported; keep planning to report everything at once
    else:
        local_argv = _local_argv(image_dir / "Dockerfile", image_dir, args, python)
        if local_argv is None and not (image_dir / "Dockerfile").exists():
            problems.append(f"{where}.image: {image_dir} has neither main.py nor a Dockerfile")
            local_argv = []
    return _Container(name, image, env, args, image_dir, local_argv, is_node)


def _public_pod(pods: list[Any]) -> int | None:
    """The pod whose node's HTTP port is --port: the public pod; without one, main-pod or the only pod."""
    for index, pod in enumerate(pods):
        if getattr(pod, "public", False):
            return index
    for index, pod in enumerate(pods):
        if pod.name == "main-pod":
            return index
    return 0 if len(pods) == 1 else None


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


def _container_env(container: Any, secrets: Mapping[str, str], where: str, problems: list[str]) -> dict[str, str]:
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
