"""Do table rows keep their column headers? Counts over the 10-Q filings and the Contoso PDFs.

Usage: .venv/bin/python -m benchmarks.pdf_tables [--no-write]

For every PDF: table blocks found, how many carry a header row, and how many of the chunks cut from
tables repeat that header line (what the embedder, BM25 and the LLM see next to each row); plus the
load time per page with the header-aware table extraction (word boxes from pdfium) and without
it (text-layer rows only), to show what the extraction costs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any
from unittest import mock

from benchmarks.report import REPO, write_results
from core.models import bundled_embedding_model_dir
from ingest.chunking import StructureAwareChunker, hf_token_counter
from ingest.loaders import load_path, pdf_loader
from ingest.ocr import shared_engine

DATASETS = REPO.parent / "shared" / "datasets"
# (folder, OCR on): Contoso's one table is an image (Benefit_Options.pdf page 4), read by OCR.
SETS = {
    "10-Q filings (docugami_sec10q, 20 PDFs), OCR off": (DATASETS / "docugami_sec10q" / "docs", False),
    "Contoso HR/benefits (6 PDFs), OCR on": (DATASETS / "contoso_hr_benefits" / "docs", True),
}


def _measure(folder: Path, ocr: bool, chunker: StructureAwareChunker) -> dict[str, Any]:
    totals = {
        "pdfs": 0,
        "pages": 0,
        "tables": 0,
        "with_header": 0,
        "table_chunks": 0,
        "chunks_with_header": 0,
    }
    seconds = {"with": 0.0, "without": 0.0}
    for path in sorted(folder.glob("*.pdf")):
        engine = shared_engine() if ocr else None
        t0 = time.perf_counter()
        (doc,) = load_path(path, ocr=engine)
        seconds["with"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        with mock.patch.object(pdf_loader, "find_tables", lambda data, pages: {}):
            load_path(path, ocr=engine)
        seconds["without"] += time.perf_counter() - t0
        tables = [b for b in doc.blocks if b.kind == "table"]
        headers = {" | ".join(b.rows[0]).strip() for b in tables if b.header}  # chunks strip the edges
        chunks = [c for c in chunker.split(doc) if c.kind == "table"]
        totals["pdfs"] += 1
        totals["pages"] += doc.page_count or 0
        totals["tables"] += len(tables)
        totals["with_header"] += sum(b.header for b in tables)
        totals["table_chunks"] += len(chunks)
        totals["chunks_with_header"] += sum(any(h in c.text for h in headers) for c in chunks)
    pages = max(totals["pages"], 1)
    return {
        **totals,
        "ms_per_page_with_tables": round(1000 * seconds["with"] / pages, 1),
        "ms_per_page_without": round(1000 * seconds["without"] / pages, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "n/a"
    chunker = StructureAwareChunker(hf_token_counter(bundled_embedding_model_dir()))
    results = {
        name: _measure(folder, ocr, chunker) for name, (folder, ocr) in SETS.items() if folder.is_dir()
    }
    lines = [
        "## PDF tables keep their column headers (`benchmarks/pdf_tables.py`)",
        "",
        "Command: `.venv/bin/python -m benchmarks.pdf_tables`. A table's header row is the column",
        "headers joined top to bottom (`Three Months Ended July 1, 2023`); the chunker repeats it above",
        f"the rows of every chunk cut from the table. Load average at the start: {load} (2 cores).",
        "",
        "| set | pages | tables | with header row | table chunks | chunks carrying the header | load ms/page (with / without header extraction) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['pages']} | {r['tables']} | {r['with_header']} | {r['table_chunks']} | "
            f"{r['chunks_with_header']} | {r['ms_per_page_with_tables']} / {r['ms_per_page_without']} |"
        )
    markdown = "\n".join(lines)
    print(markdown)
    if not args.no_write:
        write_results("pdf_tables", {"load_average_at_start": load, "results": results}, markdown)


if __name__ == "__main__":
    main()
