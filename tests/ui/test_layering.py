"""The UI is an HTTP client only: it imports nothing from the repository but its own ``app.ui``
modules, and loading it never pulls in torch, the database layer or the pipeline."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "app" / "ui"
REPO_PACKAGES = {"core", "ingest", "retrieval", "generation", "app", "benchmarks", "tests", "scripts"}
HEAVY = {"torch", "core", "ingest", "retrieval", "generation", "faiss", "sqlalchemy", "sentence_transformers"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_ui_modules_import_only_app_ui_from_the_repository() -> None:
    files = sorted(UI.rglob("*.py"))
    assert len(files) >= 10
    offending = [
        f"{path.relative_to(REPO)}: {name}"
        for path in files
        for name in _imports(path)
        if name.split(".")[0] in REPO_PACKAGES and name != "app.ui" and not name.startswith("app.ui.")
    ]
    assert offending == []


def test_running_the_ui_loads_no_models_or_database(tmp_path: Path) -> None:
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(UI / "main.py")!r}, default_timeout=30).run()
assert not at.exception, at.exception
import app.ui.client, app.ui.render, app.ui.session, app.ui.uploads, app.ui.examples
heavy = {sorted(HEAVY)!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
loaded += sorted(m for m in sys.modules if m.startswith("app.") and not m.startswith("app.ui"))
print("LOADED", loaded)
"""
    env = {"KB_API_URL": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout, out.stdout
