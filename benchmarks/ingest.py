"""Ingestion throughput vs. the raw embedder on the same chunk texts.

Usage: .venv/bin/python -m benchmarks.ingest [--docs DIR] [--backend faiss --backend postgres ...] [--no-write]
Ingests the Contoso HR/benefits documents into a throw-away data dir with the bundled embedder,
then embeds the resulting chunk texts again with the embedder alone. Target: pipeline chunks/s
>= 85 % of raw embedder chunks/s (parsing, chunking, SQL and the search store cost <= 15 %).
With several ``--backend`` the run is repeated per search backend (postgres needs KB_DATABASE_URL
on PostgreSQL with pgvector, milvus KB_MILVUS_URI: ``eval "$(scripts/dev_services.sh start)"``)
and the figures go to the ``ingest_backends`` section.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from app.context import AppContext
from benchmarks.report import REPO, write_results
from core.db import ChunkRow, DocumentRow
from core.settings import Settings
from ingest.embedder import Embedder

DEFAULT_DOCS = REPO.parent / "shared" / "datasets" / "contoso_hr_benefits" / "docs"


def measure(docs_dir: Path, backend: str, ocr: bool = True) -> dict[str, object]:
    """One ingest of ``docs_dir`` into a fresh base on ``backend``, and the raw embedder on its chunks.
    ``ocr=False`` leaves the OCR of scans and figures out (a model of its own, timed with the pipeline)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), backend=backend, ocr=ocr)  # type: ignore[arg-type]
        ctx = AppContext(settings)
        if settings.sqlalchemy_url.startswith("postgresql"):
            reset_schema(ctx)
        ctx.catalog.create("bench")
        t0 = time.perf_counter()
        ctx.embedder.warm_up()
        ctx.chunker  # noqa: B018 - load the tokenizer outside the timed region too
        load_s = time.perf_counter() - t0
        ctx.embedder.embed(["warm up the kernels"] * 8)

        t0 = time.perf_counter()
        with embedding_time(type(ctx.embedder)) as spent:
            report = ctx.pipeline.ingest("bench", [docs_dir])
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
    return {
        "backend": backend,
        "ocr": ocr,
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
        # Same-run split, immune to the load changing between the pipeline and the raw run: the
        # pipeline's own embedding seconds against everything else it did (parse, chunk, SQL, store).
        "pipeline_embed_s": round(sum(spent), 2),
        "other_s": round(pipeline_s - sum(spent), 2),
        "embed_share": round(sum(spent) / pipeline_s, 3),
        "device": ctx.embedder.model.device.type,
        "load_avg": os.getloadavg()[0],
    }


@contextmanager
def embedding_time(cls: type[Embedder]) -> Iterator[list[float]]:
    """Seconds spent in ``cls.embed`` (the embedder class in use) while inside, one entry per call."""
    spent: list[float] = []
    original = cls.embed

    def timed(self: Embedder, texts: list[str]) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return original(self, texts)
        finally:
            spent.append(time.perf_counter() - t0)

    cls.embed = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        cls.embed = original  # type: ignore[method-assign]


def reset_schema(ctx: AppContext) -> None:
    """A clean PostgreSQL database for the run (the benchmark owns the one it is pointed at)."""
    from sqlalchemy import text

    with ctx.db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    ctx.db.upgrade()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    parser.add_argument("--backend", action="append", choices=["faiss", "postgres", "milvus"])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--no-ocr", action="store_true", help="also run each backend without OCR")
    args = parser.parse_args()
    backends = args.backend or ["faiss"]
    runs = [measure(args.docs, b) for b in backends]
    if args.no_ocr:
        runs += [measure(args.docs, b, ocr=False) for b in backends]
    if len(runs) > 1:
        for run in runs:
            print(run)
        lines = [
            "| backend | OCR | chunks | pipeline s | chunks/s | raw embedder chunks/s | pipeline / raw | "
            "embedding in pipeline s | other s | embedding share | load avg |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ] + [
            f"| {r['backend']} | {'on' if r['ocr'] else 'off'} | {r['chunks']} | {r['pipeline_s']} | {r['pipeline_chunks_per_s']} | "
            f"{r['raw_embed_chunks_per_s']} | {r['ratio']:.1%} | {r['pipeline_embed_s']} | {r['other_s']} | "
            f"{r['embed_share']:.1%} | {r['load_avg']:.1f} |"
            for r in runs
        ]
        md = (
            "## Ingestion throughput per search backend (`benchmarks/ingest.py`)\n\n"
            'Command: `eval "$(scripts/dev_services.sh start)"; .venv/bin/python -m benchmarks.ingest '
            + " ".join(f"--backend {b}" for b in backends)
            + "` (Contoso HR/benefits docs, bundled all-MiniLM-L6-v2 on CPU; SQL on the PostgreSQL "
            "of dev_services.sh for every backend, Milvus through its server).\n\n"
            + "\n".join(lines)
            + "\n\nTarget: pipeline ≥ 85 % of the raw embedder's throughput. `pipeline / raw` compares two "
            "runs minutes apart; on a shared machine the load moves between them, so `embedding share` "
            "(the pipeline's own embedding seconds over its total, one run) is the steadier estimate. "
            "`load avg`: 1-minute load at the end."
        )
        if not args.no_write:
            write_results("ingest_backends", {"runs": runs}, md)
        return
    data = runs[0]
    docs, pages, n = data["documents"], data["pages"], data["chunks"]
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
