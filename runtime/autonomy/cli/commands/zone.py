"""`autonomy zone deploy|list|delete|logs|dev`.

Every `autonomy` call, `--help` and each Tab of shell completion import this module, so what only some
commands need (the kubernetes client, `zone dev`'s supervisor, the pydantic spec) is imported inside them.
"""

from __future__ import annotations

import queue
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.markup import escape

from autonomy.cli import deploy as deploying
from autonomy.cli import userconfig
from autonomy.cli.durations import parse_duration
from autonomy.cli.errors_ui import handles_errors
from autonomy.cli.exits import CliError, Exit
from autonomy.cli.jsonpath import render
from autonomy.cli.output import OutputFormat, err_console, is_terminal, print_data
from autonomy.cli.project import load_project, load_secrets

if TYPE_CHECKING:
    from autonomy.cli.kube import Kube

zone_app = typer.Typer(help="Deploy, inspect, and run zones (apps described by autonomy.yaml).", no_args_is_help=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "--zone-config", "-f", help="Path to autonomy.yaml (default: ./)")
]
SecretsOpt = Annotated[
    Path | None, typer.Option("--secrets", "--secrets-config", help="Secrets file (default: ./secrets.yaml)")
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="Kubernetes context (default: enrolled one)")]
NamespaceOpt = Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace of the zones")]
OutputOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format")]


def _kube(context: str | None, namespace: str | None) -> Kube:
    from autonomy.cli.kube import Kube

    return Kube.connect(userconfig.load(), context=context, namespace=namespace)


@zone_app.command()
@handles_errors
def deploy(
    config: ConfigOpt = None,
    secrets: SecretsOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the manifests; touch nothing")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the zone is Ready")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds --wait waits")] = 300.0,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", envvar="AUTONOMY_DOCKER_NO_CACHE", help="Build images without Docker's cache"),
    ] = False,
    registry: Annotated[
        str | None, typer.Option("--registry", help="Push images here (default: the Cluster's registry)")
    ] = None,
    skip_build: Annotated[
        bool, typer.Option("--skip-build", help="Use images already built (refs given with --image NAME=REF)")
    ] = False,
    image: Annotated[
        list[str] | None,
        typer.Option("--image", help="NAME=REF: use REF for local image NAME instead of building it"),
    ] = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Validate autonomy.yaml, build and ship its images, write its Secret, and apply the Zone."""
    project = load_project(config)
    spec = project.spec
    secret_data = load_secrets(secrets, project.root)
    names = deploying.local_images(spec)
    given = _parse_images(image or [])
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise CliError(
            f"--image {', '.join(unknown)}: not a local image of this zone "
            f"(local images: {', '.join(names) or 'none'})",
            Exit.USAGE,
        )
    secret = deploying.secret_name(spec)
    if dry_run:
        settings = userconfig.load()
        ns = namespace or settings.namespace or "default"
        from autonomy.cli.images import planned_ref

        refs = {n: given.get(n) or planned_ref(spec.name, n, registry) for n in names}
        docs: list[dict[str, Any]] = []
        if secret_data:
            docs.append(deploying.secret_manifest(secret, ns, spec.name, secret_data, redact=True))
        docs.append(deploying.zone_manifest(spec, ns, refs))
        sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))
        return
    kube = _kube(context, namespace)
    missing = kube.missing_crds()
    if missing:
        raise CliError(
            f"the cluster has no {', '.join(missing)}",
            Exit.CLUSTER,
            details=["install the operator: `autonomy cluster enroll --install`"],
        )
    refs = dict(given)
    to_build = [n for n in names if n not in refs]
    if to_build and skip_build:
        raise CliError(f"--skip-build needs --image NAME=REF for {', '.join(to_build)}", Exit.USAGE)
    if to_build:
        refs.update(_build_and_ship(kube, spec.name, project.root / "images", to_build, registry, no_cache))
    if secret_data:
        kube.apply_secret(secret, secret_data, deploying.secret_labels(spec.name))
        err_console.print(f"secret {secret}: {len(secret_data)} key(s)")
    manifest = deploying.zone_manifest(spec, kube.target.namespace, refs)
    applied = kube.apply_zone(manifest)
    err_console.print(
        f"zone {spec.name} applied in namespace {kube.target.namespace} "
        f"(generation {applied.get('metadata', {}).get('generation')})"
    )
    if not wait:
        return
    if is_terminal():
        with err_console.status(f"waiting for zone {spec.name}") as status:
            result = deploying.wait_ready(kube, spec.name, timeout, lambda line: status.update(line))
    else:
        result = deploying.wait_ready(kube, spec.name, timeout, lambda line: err_console.print(line))
    url = result.zone.get("status", {}).get("url")
    err_console.print(f"zone {spec.name} is Ready after {result.seconds:.1f} s" + (f": {url}" if url else ""))


def _parse_images(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, ref = pair.partition("=")
        if not sep or not name or not ref:
            raise CliError(f"--image {pair!r}: expected NAME=REF", Exit.USAGE)
        out[name] = ref
    return out


def _build_and_ship(
    kube: Kube, zone: str, images_dir: Path, names: list[str], registry: str | None, no_cache: bool
) -> dict[str, str]:
    from autonomy.cli.images import build_zone_images

    if registry is None:
        for cluster in kube.clusters():
            registry = (cluster.get("spec") or {}).get("imageRegistry") or registry
    with err_console.status(f"building {', '.join(names)}") if is_terminal() else _nullcontext():
        built = build_zone_images(zone, images_dir, names, registry=registry, no_cache=no_cache)
    for line in deploying.ship_images(kube, built, registry):
        err_console.print(line)
    return {item.name: item.ref for item in built}


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


FALLBACK_COLUMNS = [
    ("NAME", ".metadata.name", "string"),
    ("READY", '.status.conditions[?(@.type=="Ready")].status', "string"),
    ("URL", ".status.url", "string"),
    ("AGE", ".metadata.creationTimestamp", "date"),
]


@zone_app.command("list")
@handles_errors
def list_zones(
    output: OutputOpt = OutputFormat.table,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A")] = False,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """List zones, with the columns of `kubectl get zones`."""
    kube = _kube(context, namespace)
    zones = kube.list_zones(all_namespaces)
    columns = _printer_columns(kube)
    if all_namespaces:
        columns = [("NAMESPACE", ".metadata.namespace", "string"), *columns]
    rows = [{header: render(path, z, kind) for header, path, kind in columns} for z in zones]
    print_data(
        rows,
        [(h, h) for h, _, _ in columns],
        output,
        document=zones if output != OutputFormat.table else None,
    )


def _printer_columns(kube: Kube) -> list[tuple[str, str, str]]:
    from autonomy.cli.kube import CRDS

    try:
        crd = kube.ext.read_custom_resource_definition(CRDS[1])
    except Exception:
        return FALLBACK_COLUMNS
    for version in crd.spec.versions:
        if version.served and version.storage:
            extra = [
                (c.name.upper(), c.json_path, c.type)
                for c in (version.additional_printer_columns or [])
                if not c.priority
            ]
            names = [c[0] for c in extra]
            if "AGE" not in names and not any(c[1] == ".metadata.creationTimestamp" for c in extra):
                extra.append(("AGE", ".metadata.creationTimestamp", "date"))
            return [("NAME", ".metadata.name", "string"), *extra] if extra else FALLBACK_COLUMNS
    return FALLBACK_COLUMNS


@zone_app.command()
@handles_errors
def delete(
    name: Annotated[str | None, typer.Argument(help="Zone name (default: the one in ./autonomy.yaml)")] = None,
    all_zones: Annotated[bool, typer.Option("--all", help="Delete every zone in the namespace")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    config: ConfigOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Delete a zone (and the Secret the CLI made for it)."""
    from autonomy.spec import secret_name as spec_secret_name

    if name and all_zones:
        raise CliError("give a zone NAME or --all, not both", Exit.USAGE)
    kube = _kube(context, namespace)
    if all_zones:
        targets = [z["metadata"]["name"] for z in kube.list_zones()]
        if not targets:
            err_console.print(f"no zones in namespace {kube.target.namespace}")
            return
    else:
        targets = [name or load_project(config).spec.name]
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("refusing to delete without --yes when not on a terminal", Exit.USAGE)
        if not typer.confirm(f"Delete zone(s) {', '.join(targets)} in {kube.target.namespace}?"):
            raise CliError("not deleted", Exit.FAILURE)
    missing = []
    for target in targets:
        if kube.delete_zone(target):
            kube.delete_secret(spec_secret_name(target))
            err_console.print(f"zone {target} deleted")
        else:
            missing.append(target)
    if missing:
        raise CliError(f"no zone {', '.join(missing)} in namespace {kube.target.namespace}", Exit.NOT_FOUND)


@zone_app.command()
@handles_errors
def logs(
    name: Annotated[str | None, typer.Argument(help="Zone name (default: from ./autonomy.yaml)")] = None,
    pod: Annotated[str | None, typer.Option("--pod", "-p", help="Only this pod (e.g. main-pod)")] = None,
    container: Annotated[str | None, typer.Option("--container", "-c", help="Only this container")] = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", "-f", help="Keep printing new lines")] = False,
    tail: Annotated[int, typer.Option("--tail", help="Lines from the end (-1: all)")] = -1,
    since: Annotated[str | None, typer.Option("--since", help="Only newer lines, e.g. 5m")] = None,
    # Not ConfigOpt: its `-f` is `--follow` here, as in `kubectl logs -f`.
    config: Annotated[
        Path | None, typer.Option("--config", "--zone-config", help="Path to autonomy.yaml (default: ./)")
    ] = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Print the logs of every clone of a zone's pods, each line prefixed with pod and container."""
    from urllib3.exceptions import HTTPError as Urllib3Error

    from autonomy.cli.dev.supervisor import LogPrinter

    zone = name or load_project(config).spec.name
    since_seconds = parse_duration(since) if since else None
    kube = _kube(context, namespace)
    pods = kube.zone_pods(zone, pod)
    if not pods:
        raise CliError(
            f"zone {zone} has no pods" + (f" of {pod}" if pod else "") + f" in namespace {kube.target.namespace}",
            Exit.NOT_FOUND,
        )
    streams = [
        (p.metadata.name, c.name) for p in pods for c in p.spec.containers if container is None or c.name == container
    ]
    if not streams:
        raise CliError(f"no container {container!r} in zone {zone}", Exit.NOT_FOUND)
    printer = LogPrinter(sys.stdout)
    for pod_name, c_name in streams:
        printer.register(f"{pod_name}/{c_name}")
    # One thread per stream; the main thread prints, so lines never interleave mid-line.
    lines: queue.Queue[tuple[str, str] | None] = queue.Queue()
    failed: list[str] = []

    def pump(pod_name: str, c_name: str) -> None:
        label = f"{pod_name}/{c_name}"
        try:
            for line in kube.stream_logs(
                pod_name, c_name, follow=follow, tail=tail if tail >= 0 else None, since_seconds=since_seconds
            ):
                lines.put((label, line))
        except CliError as error:
            _stream_failed(failed, label, error.message)
        except (Urllib3Error, OSError) as error:  # the connection dropped mid-stream
            _stream_failed(failed, label, f"log stream broke: {error}")
        finally:
            lines.put(None)

    for pod_name, c_name in streams:
        threading.Thread(target=pump, args=(pod_name, c_name), daemon=True).start()
    open_streams = len(streams)
    while open_streams:
        item = lines.get()
        if item is None:
            open_streams -= 1
        else:
            printer.line(*item)
    if failed:
        # The other streams were printed; scripts still learn that some logs are missing.
        raise CliError(f"no logs from {len(failed)} of {len(streams)} containers: {', '.join(failed)}")


def _stream_failed(failed: list[str], label: str, message: str) -> None:
    """Report a stream's failure on stderr at once (stdout carries log lines only)."""
    failed.append(label)
    err_console.print(f"[yellow]{escape(label)}:[/] {escape(message)}")


@zone_app.command()
@handles_errors
def dev(
    config: ConfigOpt = None,
    secrets: SecretsOpt = None,
    port: Annotated[int, typer.Option("--port", help="Port of the public pod's main container")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address the nodes' HTTP servers bind")] = "127.0.0.1",
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Restart when files change")] = False,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", "-e", help="KEY=VALUE for every container (overrides autonomy.yaml)"),
    ] = None,
    docker: Annotated[
        bool,
        typer.Option(
            "--docker",
            help="Run every pod in Docker, as a cluster would (each pod one network namespace, images built "
            "from images/<name>/); by default only pods with a container that needs Docker run there",
        ),
    ] = False,
) -> None:
    """Run the zone on this machine, no Kubernetes: every pod and clone, logs prefixed, Ctrl-C stops all."""
    from autonomy.cli.dev.run import DevOptions, run_dev

    extra = {}
    for pair in env or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--env {pair!r}: expected KEY=VALUE", Exit.USAGE)
        extra[key] = value
    run_dev(DevOptions(config=config, secrets=secrets, port=port, host=host, watch=watch, env=extra, docker=docker))
