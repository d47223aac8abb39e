"""`autonomy zone repl --to HOST:PORT`: a terminal on an agent's REPL (the node's `Repl.start(agent)`)."""

from __future__ import annotations

from typing import Annotated

import typer

from autonomy.cli.errors_ui import handles_errors


@handles_errors
def repl(
    to: Annotated[
        str, typer.Option("--to", help="Where the REPL listens: Repl.start's listen_address (HOST:PORT)")
    ] = "127.0.0.1:7000",
) -> None:
    """Talk to an agent from this terminal: type a message, read the answer as it streams; :help, :quit."""
    from autonomy.cli.repl_client import ReplClient

    ReplClient(to).run()


def register(zone_app: typer.Typer) -> None:
    zone_app.command("repl")(repl)
