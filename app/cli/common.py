"""What every ``kb`` subcommand shares: the stderr console, the --json flag, output and failure helpers.

Machine-readable output (``--json``) goes to stdout; progress bars and messages go to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.context import AppContext
from core.settings import load_settings

err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON to stdout.")]


def open_context() -> AppContext:
    """The composition root for this command, from the environment's settings."""
    return AppContext(load_settings())


def emit(data: Any) -> None:
    """Write ``data`` as one JSON line to stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit with ``code``."""
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def progress_bar(quiet: bool) -> Progress:
    """A progress bar with counts and elapsed time, on stderr (none with --json)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    )
