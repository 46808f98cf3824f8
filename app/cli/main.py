"""The ``kb`` command line: the root command, with its subcommands registered one module per area."""

from __future__ import annotations

import logging

import typer

from app.cli import api, bases, documents, generation, jobs, retrieval, ui
from app.cli.common import err
from app.context import AppContext
from core.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="Enterprise knowledge-base assistant.", add_completion=False)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    AppContext(load_settings(), migrate=True)
    err.print("database is up to date")


bases.register(app)
documents.register(app)
app.add_typer(db_app, name="db")
jobs.register(app)
retrieval.register(app)
generation.register(app)
api.register(app)
ui.register(app)


def main() -> None:
    """The ``kb`` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
