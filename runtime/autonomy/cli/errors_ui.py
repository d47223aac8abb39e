"""Turning a `CliError` into a message on stderr and an exit code, the same way for every command."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.markup import escape
from urllib3.exceptions import HTTPError as Urllib3Error

from autonomy.cli.exits import CliError, Exit
from autonomy.cli.output import err_console

P = ParamSpec("P")
R = TypeVar("R")


def report(error: CliError) -> None:
    err_console.print(f"[bold red]error:[/] {escape(error.message)}")
    for line in error.details:
        err_console.print(f"  - {escape(line)}")


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a typer command: CliError -> message + its exit code; Ctrl-C -> exit 130."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CliError as error:
            report(error)
            raise typer.Exit(int(error.code)) from None
        except (OSError, Urllib3Error) as error:  # failures reaching a cluster
            report(CliError(f"cannot connect: {error}", Exit.CLUSTER))
            raise typer.Exit(int(Exit.CLUSTER)) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(int(Exit.INTERRUPTED)) from None

    return wrapper
