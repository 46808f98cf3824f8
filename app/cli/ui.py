"""``kb ui``: run the Streamlit UI, an HTTP client of the API (it never loads models or the database).

Also runnable on its own on a host that only serves the UI: ``python -m app.cli.ui --api-url URL``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

# The UI's web server: the Streamlit pages plus its own session-cookie and file routes.
UI_SERVER = Path(__file__).resolve().parents[1] / "ui" / "server.py"
DEFAULT_API_URL = "http://127.0.0.1:8000"


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line for the UI on ``host:port``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(UI_SERVER),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",  # no "Deploy" button: this is a product, not a notebook
        "--server.maxUploadSize",
        "100",  # MiB, the API's default KB_MAX_FILE_BYTES: refuse in the browser what the API would
    ]


def ui(
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8501,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url", help="The API's base URL (default: $KB_API_URL or " + DEFAULT_API_URL + ")."
        ),
    ] = None,
) -> None:
    """Run the web UI (Streamlit). Start the API first with `kb serve`."""
    env = dict(os.environ)  # passed through; the UI reads KB_API_URL in app/ui/config.py
    if api_url:
        env["KB_API_URL"] = api_url
    typer.echo(
        f"UI on http://{host}:{port} (API: {api_url or '$KB_API_URL or ' + DEFAULT_API_URL})", err=True
    )
    # exec, not a child process: stopping `kb ui` (Ctrl-C, SIGTERM from a supervisor) stops Streamlit
    # itself instead of leaving it orphaned and still serving.
    command = streamlit_command(host, port)
    sys.stderr.flush()
    os.execve(command[0], command, env)


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)


def main() -> None:
    typer.run(ui)


if __name__ == "__main__":
    main()
