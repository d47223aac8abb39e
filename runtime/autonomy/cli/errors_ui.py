"""Turning a `CliError` into a message on stderr and an exit code, the same way for every command."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.markup import escape

from autonomy.cli.exits import CliError, Exit
from autonomy.cli.output import err_console

P = ParamSpec("P")
R = TypeVar("R")


def report(error: CliError) -> None:
    err_console.print(f"[bold red]error:[/] {escape(error.message)}")
    for line in error.details:
        err_console.print(f"  - {escape(line)}")


def connection_errors() -> tuple[type[Exception], ...]:
    """What failing to reach a cluster raises: OSError, and urllib3's errors once the kubernetes client is loaded.

    Read from sys.modules, not imported, so that commands that never connect do not load urllib3; an error of
    a module never imported cannot have been raised.
    """
    urllib3_exceptions = sys.modules.get("urllib3.exceptions")
    if urllib3_exceptions is None:
        return (OSError,)
    return (OSError, urllib3_exceptions.HTTPError)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a typer command: CliError -> message + its exit code; Ctrl-C -> exit 130."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CliError as error:
            report(error)
            raise typer.Exit(int(error.code)) from None
        except connection_errors() as error:  # evaluated only when an exception gets here
            report(CliError(f"cannot connect: {error}", Exit.CLUSTER))
            raise typer.Exit(int(Exit.CLUSTER)) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(int(Exit.INTERRUPTED)) from None

    return wrapper
