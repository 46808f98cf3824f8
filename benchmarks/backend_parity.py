"""Retrieval quality per search backend on the three dev sets, and what a migration between them costs.

Usage: eval "$(scripts/dev_services.sh start)"
       .venv/bin/python -m benchmarks.backend_parity [--set contoso --set tatqa --set hetpqa]
           [--backend postgres --backend milvus] [--no-write]

Per set: ingest once into a faiss base (SQL on the PostgreSQL of KB_DATABASE_URL, emptied first),
evaluate bm25 / dense / hybrid with `kb eval retrieval`'s evaluator, then `kb bases migrate` the base
to postgres and to milvus (KB_MILVUS_URI) and evaluate again on the very same chunks and vectors.
Target: hybrid nDCG@10 within 0.01 of faiss. No reranker (it is backend-independent).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from app.context import AppContext
from benchmarks.datasets import eval_sets
from benchmarks.report import write_results
from core.settings import Settings
from ingest.migrate import BaseMigrator
from retrieval.evaluation import evaluate, variant_searchers
from retrieval.filters import SearchFilters
from retrieval.metrics import read_qrels, read_queries, read_query_filters

BACKENDS = ("faiss", "postgres", "milvus")


def score(ctx: AppContext, name: str, evalset: Any) -> dict[str, dict[str, Any]]:
    queries = read_queries(evalset.queries)
    filters = read_query_filters(evalset.queries, evalset.query_filter) if evalset.query_filter else None
    searchers = variant_searchers(ctx.dense, ctx.sparse, ctx.retriever, with_rerank=False)
    for q in list(queries.values())[:2]:
        for fn in searchers.values():  # warm up caches and connections outside the timings
            fn(q, 10, SearchFilters(kbs=(name,)))
    results = evaluate(
        searchers, queries, read_qrels(evalset.qrels), unit=evalset.unit, kb=name, query_filters=filters
    )
    return {r.variant: r.as_dict() for r in results}


def run_set(name: str, evalset: Any, tmp: Path, targets: list[str]) -> dict[str, Any]:
    ctx = AppContext(Settings(data_dir=tmp, reranker="none", backend="faiss"))
    if not ctx.settings.sqlalchemy_url.startswith("postgresql"):
        raise SystemExit(
            'KB_DATABASE_URL must name PostgreSQL with pgvector: eval "$(scripts/dev_services.sh start)"'
        )
    with ctx.db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    ctx.db.upgrade()
    ctx.catalog.create(name, backend="faiss")
    t0 = time.perf_counter()
    report = ctx.pipeline.ingest(name, list(evalset.docs_paths))
    out: dict[str, Any] = {
        "ingest_s": round(time.perf_counter() - t0, 1),
        "chunks": report.chunks,
        "backends": {},
    }
    print(f"[{name}] ingested {report.chunks} chunks in {out['ingest_s']} s", flush=True)
    migrator = BaseMigrator(ctx.db, ctx.backends)
    for backend in ["faiss", *targets]:
        if backend != "faiss":
            t0 = time.perf_counter()
            migrator.migrate(name, backend)
            out.setdefault("migrate_s", {})[backend] = round(time.perf_counter() - t0, 1)
        out["backends"][backend] = score(ctx, name, evalset)
        hybrid = out["backends"][backend]["hybrid"]
        print(
            f"[{name}] {backend}: hybrid nDCG@10 {hybrid['ndcg@10']:.4f} p50 {hybrid['p50_ms']} ms",
            flush=True,
        )
    if "milvus" in targets:
        ctx.backends.get("milvus").drop_base(ctx.catalog.get(name).id)
    ctx.db.dispose()
    return out


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=["contoso", "tatqa", "hetpqa"])
    parser.add_argument("--backend", action="append", choices=BACKENDS[1:], help="default: both")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    targets = args.backend or list(BACKENDS[1:])
    sets = eval_sets()
    chosen = args.set or ["contoso", "tatqa", "hetpqa"]
    out: dict[str, Any] = {}
    for name in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            out[name] = run_set(name, sets[name], Path(tmp), targets)
    if args.no_write:
        return
    lines = []
    for name, data in out.items():
        faiss_ndcg = data["backends"]["faiss"]["hybrid"]["ndcg@10"]
        lines += [
            f"\n### {name} ({data['chunks']} chunks; migrate s: "
            + ", ".join(f"{b} {s}" for b, s in data.get("migrate_s", {}).items())
            + ")\n",
            "| backend | bm25 nDCG@10 | dense nDCG@10 | hybrid nDCG@10 | Δ hybrid vs faiss | hybrid Recall@10 | "
            "hybrid p50 ms | hybrid p95 ms |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for backend, rows in data["backends"].items():
            h = rows["hybrid"]
            lines.append(
                f"| {backend} | {rows['bm25']['ndcg@10']:.3f} | {rows['dense']['ndcg@10']:.3f} | "
                f"{h['ndcg@10']:.3f} | {h['ndcg@10'] - faiss_ndcg:+.3f} | {h['recall@10']:.3f} | "
                f"{h['p50_ms']} | {h['p95_ms']} |"
            )
    md = (
        "## Retrieval quality per search backend (`benchmarks/backend_parity.py`)\n\n"
        'Command: `eval "$(scripts/dev_services.sh start)"; .venv/bin/python -m benchmarks.backend_parity`. '
        "One ingest per set into a faiss base, then `kb bases migrate` to postgres and milvus: the same "
        "chunks and vectors, scored by the same evaluator (no reranker). Latency includes query embedding "
        "and SQL hydration, on the shared 2-core machine." + "\n".join(lines)
    )
    write_results("backend_parity", {"sets": out}, md)


if __name__ == "__main__":
    main()
