"""``kb serve``, ``kb users …`` and ``kb groups …``: run the API and bootstrap accounts."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from app.cli.common import err
from app.services.accounts import Accounts
from core.db import Database
from core.errors import KBError
from core.settings import load_settings

users_app = typer.Typer(help="User accounts (the API's sign-in).", no_args_is_help=True)
groups_app = typer.Typer(help="Access groups.", no_args_is_help=True)

# Development mode only: printed by the demo, refused in production.
DEMO_USERS = (
    ("admin", "admin", ["staff", "finance", "support"]),
    ("agent", "agent", ["staff", "support"]),
    ("employee", "employee", ["staff", "finance"]),
)
DEMO_PASSWORD_SUFFIX = "-demo-pass"


def _accounts() -> Accounts:
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.sqlalchemy_url)
    db.upgrade()
    return Accounts(db, settings.session_hours)


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option()] = "info",
) -> None:
    """Run the HTTP API (docs at /docs). Migrations run first. Without a task queue this process also
    runs the jobs (and finishes those a dead process left); with one, `kb worker`s do."""
    import uvicorn

    from app.api.main import create_app

    settings = load_settings()
    app = create_app(settings, warm_up=True)
    if not app.state.services.accounts.has_admin():
        err.print(
            "[yellow]no admin account yet:[/yellow] create one with `kb users create-admin --username NAME`"
        )
    uvicorn.run(app, host=host, port=port, log_level=log_level)


@users_app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option("--username", "-u")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an admin account (the first one bootstraps the API)."""
    _create(username, "admin", [], password_stdin)


@users_app.command("create")
def create_user(
    username: Annotated[str, typer.Option("--username", "-u")],
    role: Annotated[str, typer.Option(help="admin | agent | employee")] = "employee",
    group: Annotated[list[str] | None, typer.Option("--group", help="Access group (repeatable).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Create a user in the given groups (create the groups first with `kb groups create`)."""
    _create(username, role, group or [], password_stdin)


def _create(username: str, role: str, groups: list[str], password_stdin: bool) -> None:
    try:
        user = _accounts().create_user(username, _password(password_stdin), role, groups)
    except KBError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    err.print(f"created {user.role} {user.username} ({user.id})")


@users_app.command("list")
def list_users(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Users with their role, groups and status."""
    users = _accounts().list_users()
    if as_json:
        rows = [
            {"id": u.id, "username": u.username, "role": u.role, "groups": u.groups, "disabled": u.disabled}
            for u in users
        ]
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    for u in users:
        status = "disabled" if u.disabled else ""
        typer.echo(f"{u.username:<20} {u.role:<9} {','.join(u.groups):<30} {status}")


@users_app.command("demo")
def demo_users() -> None:
    """Development mode only: create the demo groups and the users admin, agent and employee with
    well-known passwords (skips those that exist) and print the logins."""
    settings = load_settings()
    if settings.environment != "development":
        err.print(
            "[red]refused:[/red] demo users have well-known passwords; KB_ENVIRONMENT is not development"
        )
        raise typer.Exit(2)
    accounts = _accounts()
    existing_groups = {g["name"] for g in accounts.list_groups()}
    for group in sorted({g for _, _, groups in DEMO_USERS for g in groups} - existing_groups):
        accounts.create_group(group)
    existing = {u.username for u in accounts.list_users()}
    for username, role, groups in DEMO_USERS:
        if username not in existing:
            accounts.create_user(username, username + DEMO_PASSWORD_SUFFIX, role, groups)
        typer.echo(f"  {role:<9} login: {username:<9} password: {username + DEMO_PASSWORD_SUFFIX}")


@groups_app.command("create")
def create_group(name: str) -> None:
    """Create an access group."""
    try:
        _accounts().create_group(name)
    except KBError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    err.print(f"created group {name}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(groups_app, name="groups")
