"""The `autonomy` console script: `autonomy cluster ...` and `autonomy zone ...`.

Shell completion comes from typer (`autonomy --install-completion`).
"""

from __future__ import annotations

import typer

from autonomy.cli.commands import repl
from autonomy.cli.commands.cluster import cluster_app
from autonomy.cli.commands.zone import zone_app

app = typer.Typer(
    name="autonomy",
    help="Run apps of agents (zones) on Kubernetes, or on this machine with `autonomy zone dev`.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cluster_app, name="cluster")
repl.register(zone_app)  # `zone repl` lives in its own module
app.add_typer(zone_app, name="zone")


@app.command()
def version() -> None:
    """Print the version of the autonomy CLI and framework."""
    from autonomy import __version__

    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
