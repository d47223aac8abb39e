"""`zone dev` end to end: plan, prepare Docker when a pod needs it, run, report readiness, watch, stop.

SIGINT and SIGTERM both stop everything and return normally (exit 0): Ctrl-C is how a dev loop ends.
With Docker pods, the run's network and containers are removed on the way out, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from autonomy.cli import docker as docker_cli
from autonomy.cli.dev.plan import DEV_CLUSTER, DEV_NAMESPACE, DevPlan, make_plan
from autonomy.cli.dev.sandbox import DockerRun, create_network, reap_leftovers, remove_run
from autonomy.cli.dev.supervisor import LogPrinter, Supervisor
from autonomy.cli.dev.watch import wait_for_change
from autonomy.cli.exits import CliError, Exit
from autonomy.cli.images import build_node_image, node_image_tag
from autonomy.cli.output import err_console
from autonomy.cli.project import load_project, load_secrets
from autonomy.identity.dev_authority import create_dev_authority


@dataclass(frozen=True)
class DevOptions:
    config: Path | None
    secrets: Path | None
    port: int
    host: str
    watch: bool
    env: dict[str, str]
    docker: bool = False  # every pod in Docker, not only those that need it


def run_dev(options: DevOptions) -> None:
    project = load_project(options.config)
    secrets = load_secrets(options.secrets, project.root)
    # The run directory (0700, this user's): the discovery registry, and a zone CA made for this run only.
    # Its nodes sign their own certificates with it; the local user is the trust boundary, as for any
    # process the user runs.
    run_dir = Path(tempfile.mkdtemp(prefix=f"autonomy-dev-{project.spec.name}-"))
    try:
        registry = run_dir / "registry"
        registry.mkdir(mode=0o700)
        ca_dir = run_dir / "ca"
        create_dev_authority(ca_dir, DEV_CLUSTER, DEV_NAMESPACE, str(project.spec.name))
        plan = make_plan(
            project.spec,
            project.root,
            secrets=secrets,
            registry_dir=registry,
            port=options.port,
            host=options.host,
            extra_env=dict(options.env),
            docker=options.docker,
            ca_dir=ca_dir,
        )
        docker_run = None
        if plan.network is not None:
            _check_docker(plan)
            node_image = node_image_tag()
            if not docker_cli.image_exists(node_image):
                err_console.print(f"building the node image {node_image} (once)")
                build_node_image(node_image)
            docker_run = DockerRun(
                zone=plan.zone,
                run_id=plan.run_id,
                network=plan.network,
                pause_image=node_image,
                registry_dir=registry,
                ca_dir=ca_dir,
                publish_host=options.host or "0.0.0.0",
            )
            _build_images(plan, node_image)
        asyncio.run(_run(plan, project.root, options, docker_run))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _check_docker(plan: DevPlan) -> None:
    if docker_cli.available():
        return
    raise CliError(
        "these containers need Docker, and no Docker engine answers here",
        Exit.DOCKER,
        details=[
            f"{p.label}: image {p.docker_image}"
            + ("" if "/" in str(p.docker_image) else " (built from images/; its pod runs in Docker)")
            for p in plan.needs_docker
        ]
        + ["start Docker (or install it), or run only node containers built from images/<name>/"],
    )


def _build_images(plan: DevPlan, node_image: str) -> None:
    """Build the zone's images on the node image, as `zone deploy` does (cached layers make it quick)."""
    for tag, build in plan.images_to_build.items():
        err_console.print(f"building {tag} from {build.context}")
        with tempfile.TemporaryDirectory(prefix="autonomy-dev-build-") as tmp:
            dockerfile = None
            if build.dockerfile is not None:
                dockerfile = Path(tmp) / "Dockerfile"
                dockerfile.write_text(build.dockerfile)
            docker_cli.build(tag, build.context, dockerfile=dockerfile, build_args={"NODE_IMAGE": node_image})


async def _run(plan: DevPlan, root: Path, options: DevOptions, docker_run: DockerRun | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if docker_run is not None:
            for leftover in await reap_leftovers(docker_run.docker):
                _notice(f"removed {leftover[:12]}, left behind by a zone dev that is gone")
            try:
                plan = plan.on_network(await create_network(docker_run))
            except RuntimeError as error:
                raise CliError(str(error), Exit.DOCKER) from None
        await _supervise(plan, root, options, docker_run, stop)
    finally:
        if docker_run is not None:
            await remove_run(docker_run)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    _notice(f"zone {plan.zone}: stopped")


async def _supervise(
    plan: DevPlan, root: Path, options: DevOptions, docker_run: DockerRun | None, stop: asyncio.Event
) -> None:
    supervisor = Supervisor(plan.pods, LogPrinter(sys.stdout), docker=docker_run, notice=_notice)
    started = time.monotonic()
    n_nodes = sum(1 for p in plan.processes if p.http_port is not None)
    n_docker = sum(1 for pod in plan.pods if pod.in_docker)
    _notice(
        f"zone {plan.zone}: starting {len(plan.processes)} container(s), {n_nodes} node(s)"
        + (f", {n_docker} pod(s) in Docker" if n_docker else "")
    )
    await supervisor.start()
    ready = asyncio.create_task(_report_ready(plan, options.host, started))
    try:
        while not stop.is_set():
            stopped = asyncio.create_task(stop.wait())
            watching = asyncio.create_task(wait_for_change(root)) if options.watch else None
            waiters: list[asyncio.Task[Any]] = [stopped] + ([watching] if watching else [])
            _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if stop.is_set() or watching is None:
                break
            changed = watching.result()
            _notice(f"{len(changed)} file(s) changed ({Path(changed[0]).name}, ...): restarting the zone")
            ready.cancel()
            await supervisor.stop()
            if docker_run is not None:
                await asyncio.to_thread(_build_images, plan, docker_run.pause_image)
            await supervisor.start()
            started = time.monotonic()
            ready = asyncio.create_task(_report_ready(plan, options.host, started))
    finally:
        ready.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ready
        _notice(f"zone {plan.zone}: stopping")
        await supervisor.stop()


async def _report_ready(plan: DevPlan, host: str, started: float) -> None:
    """Tell the user when every node answers /readyz, and where the public one is."""
    ports = [p.http_port for p in plan.processes if p.http_port is not None]
    pending = set(ports)
    async with httpx.AsyncClient(timeout=1.0) as client:
        while pending:
            for port in list(pending):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://{_connect_host(host)}:{port}/readyz")).status_code == 200:
                        pending.discard(port)
            if pending:
                await asyncio.sleep(0.2)
    url = f"http://{_connect_host(host)}:{plan.public_port}" if plan.public_port else None
    took = time.monotonic() - started
    _notice(f"zone {plan.zone}: {len(ports)} node(s) ready in {took:.1f} s" + (f" at {url}" if url else ""))


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def _notice(message: str) -> None:
    err_console.print(f"[bold]»[/] {message}")
