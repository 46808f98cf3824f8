"""``kb ui``: runs ``streamlit run app/ui/server.py`` headless on the given address with KB_API_URL set."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import ui as cli_ui
from app.cli.main import app


def test_kb_ui_runs_streamlit_with_the_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_exec(path: str, cmd: list[str], env: dict[str, str]) -> Any:
        assert path == cmd[0]
        calls.append((cmd, env))

    monkeypatch.setattr(os, "execve", fake_exec)
    result = CliRunner().invoke(
        app, ["ui", "--host", "0.0.0.0", "--port", "8600", "--api-url", "http://api.internal:8000"]
    )
    assert result.exit_code == 0, result.output
    [(cmd, env)] = calls
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert cmd[4] == str(cli_ui.UI_SERVER) and cli_ui.UI_SERVER.is_file()
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert flags == {
        "--server.address": "0.0.0.0",
        "--server.port": "8600",
        "--server.headless": "true",
        "--browser.gatherUsageStats": "false",
        "--client.toolbarMode": "minimal",
        "--server.maxUploadSize": "100",
    }
    assert env["KB_API_URL"] == "http://api.internal:8000"


def test_kb_ui_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(os, "execve", lambda path, cmd, env: seen.append(cmd))
    assert CliRunner().invoke(app, ["ui"]).exit_code == 0
    flags = dict(zip(seen[0][5::2], seen[0][6::2], strict=True))
    assert (flags["--server.address"], flags["--server.port"]) == ("127.0.0.1", "8501")
