"""``kb ui``: run the Streamlit UI (an HTTP client of the API)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.settings import load_settings

UI_SCRIPT = Path(__file__).parent / "ui" / "main.py"


def ui(
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8501,
    api_url: Annotated[str | None, typer.Option("--api-url", help="Default: KB_API_URL.")] = None,
) -> None:
    """Run the web UI; it talks to the API at --api-url (start the API with `kb serve`)."""
    env = {**os.environ, "KB_API_URL": api_url or load_settings().api_url}
    command = [
        sys.executable, "-m", "streamlit", "run", str(UI_SCRIPT),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    raise typer.Exit(subprocess.call(command, env=env))


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
