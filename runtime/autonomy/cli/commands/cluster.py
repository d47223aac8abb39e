"""`autonomy cluster enroll|show`: choose the Kubernetes cluster the CLI talks to, and describe it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from autonomy.cli import userconfig
from autonomy.cli.deploy import condition
from autonomy.cli.errors_ui import handles_errors
from autonomy.cli.exits import CliError, Exit
from autonomy.cli.output import OutputFormat, err_console, print_data, print_fields

cluster_app = typer.Typer(help="Enroll this machine with a Kubernetes cluster, and show it.", no_args_is_help=True)


def _chart_path() -> Path | None:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "charts" / "autonomy" / "Chart.yaml").exists():
            return parent / "charts" / "autonomy"
    return None


@cluster_app.command()
@handles_errors
def enroll(
    context: Annotated[str | None, typer.Option("--context", help="Kubernetes context to use")] = None,
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", envvar="KUBECONFIG", help="kubeconfig file")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Namespace for zones")] = None,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt")] = False,
    install: Annotated[bool, typer.Option("--install", help="helm install the operator chart if missing")] = False,
    chart: Annotated[Path | None, typer.Option("--chart", help="Chart to install (default: charts/autonomy)")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the Cluster id")] = 60.0,
) -> None:
    """Point the CLI at a Kubernetes context, check the operator, and record the Cluster's id."""
    from autonomy.cli.kube import Kube, contexts  # here, not at the top: the client costs every other command

    kubeconfig = kubeconfig.split(":")[0] if kubeconfig else None
    names, current = contexts(kubeconfig)
    if context is None:
        if len(names) > 1 and not no_input and sys.stdin.isatty():
            for i, n in enumerate(names, 1):
                err_console.print(f"  {i}. {n}" + ("  (current)" if n == current else ""))
            choice = typer.prompt("Context", default=current or names[0])
            context = names[int(choice) - 1] if choice.isdigit() and 0 < int(choice) <= len(names) else choice
        else:
            context = current
    if context not in names:
        raise CliError(
            f"no context {context!r} in the kubeconfig",
            Exit.NOT_FOUND,
            details=[f"contexts: {', '.join(names) or 'none'}"],
        )
    settings = userconfig.UserConfig(context=context, kubeconfig=kubeconfig, namespace=namespace)
    kube = Kube.connect(settings)
    version = kube.server_version()
    err_console.print(f"context {context}: Kubernetes {version}")
    missing = kube.missing_crds()
    operators = kube.operator_deployments()
    if (missing or not operators) and install:
        _helm_install(chart or _chart_path(), context, kubeconfig)
        missing = kube.missing_crds()
        operators = kube.operator_deployments()
    if missing:
        raise CliError(
            f"the cluster of context {context} has no autonomy CRDs ({', '.join(missing)})",
            Exit.CLUSTER,
            details=["run `autonomy cluster enroll --install` to install them and the operator with helm"],
        )
    if not operators:
        err_console.print(
            "[yellow]warning:[/] no autonomy operator Deployment found; "
            "Zones will not be reconciled (`--install` installs it)"
        )
    cluster = kube.ensure_cluster(timeout=timeout)
    settings.cluster_id = cluster["status"]["clusterId"]
    settings.cluster_name = cluster["metadata"]["name"]
    path = settings.save()
    err_console.print(f"enrolled: cluster {settings.cluster_id} (context {context}); saved to {path}")


def _helm_install(chart: Path | None, context: str | None, kubeconfig: str | None) -> None:
    helm = shutil.which("helm")
    if helm is None:
        raise CliError("--install needs helm on PATH", Exit.CLUSTER)
    if chart is None or not chart.exists():
        raise CliError("cannot find the autonomy chart: pass --chart PATH", Exit.CONFIG)
    argv = [
        helm,
        "upgrade",
        "--install",
        "autonomy",
        str(chart),
        "--namespace",
        "autonomy-system",
        "--create-namespace",
        "--wait",
        "--timeout",
        "5m",
    ]
    if context:
        argv += ["--kube-context", context]
    if kubeconfig:
        argv += ["--kubeconfig", kubeconfig]
    err_console.print(f"helm install {chart}")
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CliError("helm install failed", Exit.CLUSTER, details=result.stderr.strip().splitlines()[-10:])


@cluster_app.command()
@handles_errors
def show(
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.table,
    context: Annotated[str | None, typer.Option("--context")] = None,
) -> None:
    """Show the cluster: id, domain, operator version, and its zones with their state."""
    from autonomy.cli.kube import Kube

    settings = userconfig.load()
    kube = Kube.connect(settings, context=context)
    clusters = kube.clusters()
    if not clusters:
        raise CliError(
            "this cluster has no Cluster resource", Exit.NOT_FOUND, details=["run `autonomy cluster enroll`"]
        )
    cluster = clusters[0]
    operators = kube.operator_deployments()
    zones = kube.list_zones(all_namespaces=True)
    zone_rows = [_zone_row(z) for z in zones]
    document: dict[str, Any] = {
        "cluster": cluster.get("status", {}).get("clusterId"),
        "name": cluster["metadata"]["name"],
        "context": kube.target.context,
        "domain": (cluster.get("spec") or {}).get("domain"),
        "operator": operators[0]["version"] if operators else None,
        "zones": zone_rows,
    }
    if output != OutputFormat.table:
        print_data([document], [], output, document=document)
        return
    print_fields(
        [
            ("cluster", document["cluster"]),
            ("context", document["context"]),
            ("domain", document["domain"] or "(none)"),
            ("operator", document["operator"] or "(not found)"),
            ("zones", len(zone_rows)),
        ]
    )
    if zone_rows:
        print_data(
            zone_rows,
            [("namespace", "NAMESPACE"), ("name", "ZONE"), ("state", "STATE"), ("url", "URL")],
            OutputFormat.table,
        )


def _zone_row(zone: dict[str, Any]) -> dict[str, Any]:
    ready = condition(zone, "Ready")
    accepted = condition(zone, "Accepted")
    if accepted and accepted.get("status") == "False":
        state = f"Rejected ({accepted.get('reason')})"
    elif ready is None:
        state = "Pending"
    else:
        state = "Ready" if ready.get("status") == "True" else f"NotReady ({ready.get('reason', '')})"
    return {
        "namespace": zone["metadata"].get("namespace"),
        "name": zone["metadata"]["name"],
        "state": state,
        "url": zone.get("status", {}).get("url"),
    }
