"""The `kb` CLI end to end with the real bundled embedder: bases, ingest --json, docs, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def run_kb(
    data: Path, *args: str, check: bool = True, reranker: str = "none", embedder: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env["KB_DATA_DIR"] = str(data)
    env["KB_RERANKER"] = reranker
    if embedder:
        env["KB_EMBEDDER"] = embedder
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True, check=check
    )


def test_cli_ingest_lifecycle(tmp_path: Path, datasets: Path) -> None:
    data = tmp_path / "data"
    files = tmp_path / "files"
    files.mkdir()
    (files / "faq.md").write_text("# Returns\n\nYou can return shoes within 60 days.\n")
    (files / "empty.txt").write_text("")
    (files / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    messy = datasets / "messy_docs_unstructured"
    for name in ("copy-protected.pdf", "table-multi-row-column-cells.pdf", "semicolon-delimited.csv"):
        (files / name).write_bytes((messy / name).read_bytes())

    out = run_kb(data, "bases", "create", "support", "--scenario", "customer_service", "--json")
    assert json.loads(out.stdout)["name"] == "support"
    dup = run_kb(data, "bases", "create", "support", check=False)
    assert dup.returncode == 2 and "already exists" in dup.stderr
    assert run_kb(data, "bases", "create", "support", "--exist-ok").returncode == 0
    bad = run_kb(data, "bases", "create", "x", "--scenario", "astrology", check=False)
    assert bad.returncode == 2 and "unknown scenario" in bad.stderr

    report = json.loads(
        run_kb(data, "ingest", str(files), "--kb", "support", "--group", "agents", "--json").stdout
    )
    assert set(report) == {"job_id", "status", "added", "updated", "unchanged", "deleted", "failed", "chunks"}
    assert report["added"] == 4 and report["chunks"] > 0  # the scanned PDF is read by OCR
    failed = {f["path"]: f["error"] for f in report["failed"]}
    assert set(failed) == {"empty.txt", "image.png"}
    assert "PNG" in failed["image.png"]  # a PNG header with nothing after it

    docs = json.loads(run_kb(data, "docs", "list", "--kb", "support", "--json").stdout)
    by_source = {d["source"]: d for d in docs}
    assert by_source["faq.md"]["status"] == "ready" and by_source["faq.md"]["groups"] == ["agents"]
    assert by_source["copy-protected.pdf"]["chunks"] > 0  # encrypted with an empty password: opened
    assert by_source["empty.txt"]["status"] == "failed" and by_source["empty.txt"]["error"]

    bases = json.loads(run_kb(data, "bases", "list", "--json").stdout)
    assert bases[0]["name"] == "support" and bases[0]["chunks"] == sum(d["chunks"] for d in docs)

    deleted = json.loads(run_kb(data, "docs", "delete", by_source["faq.md"]["id"], "--json").stdout)
    assert deleted["source"] == "faq.md"
    assert run_kb(data, "docs", "delete", "nope", check=False).returncode == 2

    only_bad = run_kb(data, "ingest", str(files / "empty.txt"), "--kb", "support", "--json", check=False)
    assert only_bad.returncode == 1 and json.loads(only_bad.stdout)["failed"]
    missing = run_kb(data, "ingest", str(files / "nope.pdf"), "--kb", "support", check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    no_kb = run_kb(data, "ingest", str(files), "--kb", "ghost", check=False)
    assert no_kb.returncode == 2 and "kb bases create ghost" in no_kb.stderr

    assert run_kb(data, "bases", "delete", "support", "--yes").returncode == 0
    assert json.loads(run_kb(data, "bases", "list", "--json").stdout) == []
