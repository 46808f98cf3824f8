"""The README's run command, end to end: `scripts/demo.sh --check` installs, builds the four demo
knowledge bases (one Chinese, embedded with EmbeddingGemma), starts the API and the UI, and verifies
them over HTTP (with the tiny LLM so it fits in CI; the demo itself defaults to the 1.5B model). Run
twice: the second run must reuse."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.servers import free_port

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run_demo(data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        KB_DATA_DIR=str(data),
        KB_DEMO_LLM_PROFILE="tiny",
        KB_DEMO_API_PORT=str(free_port()),
        KB_DEMO_UI_PORT=str(free_port()),
    )
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "demo.sh"), "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=REPO,
    )


def test_demo_builds_starts_and_answers_then_reuses(tmp_path: Path) -> None:
    first = _run_demo(tmp_path / "data")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "demo check passed" in first.stdout
    assert "login: employee" in first.stdout and "UI:   http://127.0.0.1:" in first.stdout
    second = _run_demo(tmp_path / "data")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    # Incremental: nothing is re-embedded on the second run.
    assert (second.stdout + second.stderr).count(" 0 added, 0 updated, ") == 4
