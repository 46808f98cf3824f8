"""Scanned documents end to end through the `kb` command: a phrase on a scanned page is found by
`kb search` and cited with its page and OCR confidence; the scanned table of messy_docs is
searchable; a base with OCR turned off refuses scans with the reason."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from benchmarks.ocr_pages import font_path, image_pdf, render_page
from tests.app.test_cli_ingest import run_kb
from tests.ingest.test_loaders import _pdf_bytes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(font_path() is None, reason="no CJK font: apt-get install fonts-wqy-zenhei"),
]
PHRASE = "Forklift operators must renew their safety certificate every three years."


def _half_scanned_pdf(path: Path) -> Path:
    """Page 1 typed (a text layer), page 2 a scan of typeset text (no text layer)."""
    writer = PdfWriter()
    typed = "Vacation requests go to your manager at least two weeks before the first day off. " * 6
    writer.append(PdfReader(io.BytesIO(_pdf_bytes(typed))))
    scan = render_page(["Warehouse safety rules", PHRASE, "Report every near miss to the shift lead."])
    writer.append(PdfReader(io.BytesIO(image_pdf([scan]))))
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_scanned_pages_are_searchable_and_cited_with_their_page(tmp_path: Path, datasets: Path) -> None:
    data, files = tmp_path / "data", tmp_path / "files"
    files.mkdir()
    _half_scanned_pdf(files / "safety.pdf")
    scanned_table = datasets / "messy_docs_unstructured" / "table-multi-row-column-cells.pdf"
    (files / scanned_table.name).write_bytes(scanned_table.read_bytes())
    run_kb(data, "bases", "create", "ops")
    report = json.loads(run_kb(data, "ingest", str(files), "--kb", "ops", "--json").stdout)
    assert report["added"] == 2 and report["failed"] == [], report

    hits = json.loads(run_kb(data, "search", "forklift certificate renewal", "--kb", "ops", "--json").stdout)
    top = hits[0]
    assert top["source"] == "safety.pdf" and top["page"] == 2
    assert "renew their safety certificate every three years" in top["text"]
    assert top["ocr_confidence"] is not None and top["ocr_confidence"] > 0.8
    typed = json.loads(run_kb(data, "search", "vacation requests manager", "--kb", "ops", "--json").stdout)
    assert typed[0]["page"] == 1 and typed[0]["ocr_confidence"] is None  # the text-layer page

    table = json.loads(run_kb(data, "search", "Low Vision ballots accuracy", "--kb", "ops", "--json").stdout)
    assert table[0]["source"] == scanned_table.name and table[0]["page"] == 1
    assert "Low Vision" in table[0]["text"] and table[0]["ocr_confidence"] > 0.9


def test_base_with_ocr_off_refuses_scans(tmp_path: Path) -> None:
    data = tmp_path / "data"
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(image_pdf([render_page([PHRASE])]))
    created = json.loads(run_kb(data, "bases", "create", "plain", "--no-ocr", "--json").stdout)
    assert created["ocr"] is False
    out = run_kb(data, "ingest", str(scan), "--kb", "plain", "--json", check=False)
    assert out.returncode == 1 and "OCR is turned off" in json.loads(out.stdout)["failed"][0]["error"]
    updated = json.loads(run_kb(data, "bases", "update", "plain", "--ocr", "--json").stdout)
    assert updated["ocr"] is True
    again = json.loads(run_kb(data, "ingest", str(scan), "--kb", "plain", "--json").stdout)
    assert again["updated"] == 1 and again["chunks"] > 0  # the failed row is replaced
