"""A real `kb ingest` process killed with SIGKILL mid-way: the next run ends consistent and complete."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.consistency import check_consistency
from core.db import Database
from core.index_store import IndexStore
from core.settings import Settings

pytestmark = pytest.mark.slow

KB = [sys.executable, "-m", "app.cli"]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data_dir), KB_COMMIT_EVERY_CHUNKS="24", KB_RERANKER="none")
    return env


def _index_version(db_file: Path) -> int:
    try:
        with sqlite3.connect(db_file, timeout=1) as conn:
            row = conn.execute("select index_version from knowledge_bases where name='crash'").fetchone()
            return int(row[0]) if row else 0
    except sqlite3.Error:
        return 0


def test_sigkill_mid_ingest_then_rerun(tmp_path: Path, datasets: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("employee_handbook.pdf", "PerksPlus.pdf", "Benefit_Options.pdf", "role_library.pdf"):
        shutil.copy(datasets / "contoso_hr_benefits" / "docs" / name, docs / name)
    data = tmp_path / "data"
    env = _env(data)
    subprocess.run([*KB, "bases", "create", "crash"], env=env, check=True, capture_output=True)

    proc = subprocess.Popen(
        [*KB, "ingest", str(docs), "--kb", "crash", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while _index_version(data / "kb.sqlite3") < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "ingest finished before it could be killed; lower the commit size"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    settings = Settings(data_dir=data)
    db = Database(settings.sqlalchemy_url)
    store = IndexStore(settings)
    assert check_consistency(db, store, "crash") == []  # consistent right after the kill

    done = subprocess.run(
        [*KB, "ingest", str(docs), "--kb", "crash", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(done.stdout)
    assert report["failed"] == []
    assert report["added"] + report["unchanged"] + report["updated"] == 4
    assert report["added"] >= 1  # the kill left work that this run finished

    listing = subprocess.run(
        [*KB, "docs", "list", "--kb", "crash", "--json"], env=env, check=True, capture_output=True, text=True
    )
    docs_out = json.loads(listing.stdout)
    assert sorted(d["source"] for d in docs_out) == sorted(p.name for p in docs.iterdir())
    assert all(d["status"] == "ready" and d["chunks"] > 0 for d in docs_out)
    assert check_consistency(db, store, "crash") == []

    jobs = sqlite3.connect(data / "kb.sqlite3").execute("select status from ingestion_jobs").fetchall()
    assert sorted(s for (s,) in jobs) == ["interrupted", "succeeded"]
    again = json.loads(
        subprocess.run(
            [*KB, "ingest", str(docs), "--kb", "crash", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert (again["added"], again["updated"], again["unchanged"], again["chunks"]) == (0, 0, 4, 0)
