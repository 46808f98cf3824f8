"""The demo as the browser walks see it: `kb` commands on a data dir with the default 1.5B model, then
the API and the UI as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import free_port, stop, wait_until_up

REPO = Path(__file__).resolve().parents[2]


def demo_env(data: Path) -> dict[str, str]:
    """Environment of a demo on ``data`` (development mode, the default model); skips without it."""
    from generation.backends.base import ModelNotAvailableError
    from generation.bundled import ensure_model

    try:
        model = ensure_model("default", data / "models")
    except ModelNotAvailableError as exc:
        pytest.skip(f"the default 1.5B model is not installed (scripts/bootstrap.sh … default): {exc}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data), KB_ENVIRONMENT="development", KB_RERANKER="none",
               KB_LLM_MODEL_PATH=str(model))  # fmt: skip
    return env


def kb(env: dict[str, str], *args: str) -> str:
    """Run a `kb` command; its stdout (the test fails with its output when it fails)."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@contextmanager
def api_and_ui(env: dict[str, str], data: Path) -> Iterator[str]:
    """`kb serve` and `kb ui` on free ports (logs under ``data``/logs); yields the UI's URL."""
    api_port, ui_port = free_port(), free_port()
    api_url, ui_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / "api.log", "w") as api_log, open(logs / "ui.log", "w") as ui_log:
        api = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(api_port)],
                               env=env, cwd=REPO, stdout=api_log, stderr=subprocess.STDOUT)  # fmt: skip
        ui = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "ui", "--port", str(ui_port), "--api-url", api_url],
            env=env, cwd=REPO, stdout=ui_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until_up(f"{api_url}/health", api, logs / "api.log")
            wait_until_up(f"{ui_url}/_stcore/health", ui, logs / "ui.log", seconds=90)
            yield ui_url
        finally:
            stop(ui)
            stop(api)
