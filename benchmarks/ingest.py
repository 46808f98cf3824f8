"""Ingestion throughput vs. the raw embedder on the same chunk texts.

Usage: .venv/bin/python -m benchmarks.ingest [--docs DIR] [--no-write]
Ingests the Contoso HR/benefits documents into a throw-away data dir with the bundled embedder,
then embeds the resulting chunk texts again with the embedder alone. Target: pipeline chunks/s
>= 85 % of raw embedder chunks/s (parsing, chunking, SQL and FAISS cost <= 15 %).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from app.context import AppContext
from benchmarks.report import REPO, write_results
from core.db import ChunkRow, DocumentRow
from core.settings import Settings

DEFAULT_DOCS = REPO.parent / "shared" / "datasets" / "contoso_hr_benefits" / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext(Settings(data_dir=Path(tmp)))
        ctx.catalog.create("bench")
        t0 = time.perf_counter()
        ctx.embedder.warm_up()
        ctx.chunker  # noqa: B018 - load the tokenizer outside the timed region too
        load_s = time.perf_counter() - t0
        ctx.embedder.embed(["warm up the kernels"] * 8)

        t0 = time.perf_counter()
        report = ctx.pipeline.ingest("bench", [args.docs])
        pipeline_s = time.perf_counter() - t0
        with ctx.db.session() as s:
            texts = list(s.scalars(select(ChunkRow.text).order_by(ChunkRow.id)).all())
            pages = s.scalar(select(func.coalesce(func.sum(DocumentRow.page_count), 0))) or 0
            docs = s.scalar(
                select(func.count()).select_from(DocumentRow).where(DocumentRow.status == "ready")
            )

        t0 = time.perf_counter()
        ctx.embedder.embed(texts)
        raw_s = time.perf_counter() - t0

    n = len(texts)
    data = {
        "documents": docs,
        "failed": len(report.failed),
        "pages": int(pages),
        "chunks": n,
        "model_load_s": round(load_s, 2),
        "pipeline_s": round(pipeline_s, 2),
        "raw_embed_s": round(raw_s, 2),
        "pipeline_pages_per_s": round(pages / pipeline_s, 2),
        "pipeline_chunks_per_s": round(n / pipeline_s, 2),
        "raw_embed_chunks_per_s": round(n / raw_s, 2),
        "ratio": round(raw_s / pipeline_s, 3),
        "device": ctx.embedder.model.device.type,
    }
    for key, value in data.items():
        print(f"{key:>24}: {value}")
    md = f"""## Ingestion throughput (`benchmarks/ingest.py`)

Command: `.venv/bin/python -m benchmarks.ingest` (Contoso HR/benefits docs, bundled all-MiniLM-L6-v2, device `{data["device"]}`)

| documents | pages | chunks | pipeline s | pages/s | chunks/s | raw embedder chunks/s | pipeline / raw |
|---|---|---|---|---|---|---|---|
| {docs} | {pages} | {n} | {data["pipeline_s"]} | {data["pipeline_pages_per_s"]} | {data["pipeline_chunks_per_s"]} | {data["raw_embed_chunks_per_s"]} | {data["ratio"]:.1%} |

Target: pipeline ≥ 85 % of the raw embedder's throughput. Model load ({data["model_load_s"]} s) is outside both timings."""
    if not args.no_write:
        write_results("ingest", data, md)


if __name__ == "__main__":
    main()
