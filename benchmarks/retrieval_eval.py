"""Retrieval quality of every pipeline variant against the LangChain tutorial baseline, per dataset.

Usage: .venv/bin/python -m benchmarks.retrieval_eval [--set contoso --set tatqa --set hetpqa] [--no-baseline] [--no-write]

For each set: ingest its documents into a throw-away knowledge base with the real pipeline, run
`kb eval retrieval`'s evaluator over bm25, dense, hybrid and hybrid+rerank, then build the
LangChain baseline (RecursiveCharacterTextSplitter 1000/200 + the same MiniLM + LangChain FAISS)
on the same documents and score it with the same metrics, all in one run.
Needs the `bench` extra for the baseline: pip install -e ".[cpu,bench]".
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from app.context import AppContext
from benchmarks.datasets import eval_sets
from benchmarks.report import write_results
from core.settings import Settings
from retrieval.evaluation import VARIANTS, evaluate, variant_searchers
from retrieval.filters import SearchFilters
from retrieval.metrics import read_qrels, read_queries, read_query_filters
from retrieval.rerank import BiEncoderRescorer

METRICS = ("ndcg@10", "recall@10", "recall@50", "mrr@10")


def run_ours(
    name: str, evalset: Any, settings_overrides: dict[str, Any]
) -> tuple[list[dict[str, Any]], float]:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext(Settings(data_dir=Path(tmp), **settings_overrides))
        ctx.catalog.create(name)
        t0 = time.perf_counter()
        report = ctx.pipeline.ingest(name, list(evalset.docs_paths))
        ingest_s = time.perf_counter() - t0
        print(f"[{name}] ingested: {report.to_json()} in {ingest_s:.1f}s", flush=True)
        rerank_s = 0.0
        if isinstance(ctx.reranker, BiEncoderRescorer):
            t0 = time.perf_counter()
            ctx.reranker.index_kb(ctx.catalog.get(name).id)
            rerank_s = time.perf_counter() - t0
            print(f"[{name}] reranker vectors in {rerank_s:.1f}s", flush=True)
        queries = read_queries(evalset.queries)
        filters = read_query_filters(evalset.queries, evalset.query_filter) if evalset.query_filter else None
        searchers = variant_searchers(
            ctx.dense, ctx.sparse, ctx.retriever, with_rerank=ctx.reranker is not None
        )
        for q in list(queries.values())[:2]:
            for fn in searchers.values():  # warm up models and caches outside the timings
                fn(q, 10, SearchFilters(kbs=(name,)))
        results = evaluate(
            searchers, queries, read_qrels(evalset.qrels), unit=evalset.unit, kb=name, query_filters=filters
        )
        return [res.as_dict() for res in results], ingest_s, rerank_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=["contoso", "tatqa", "hetpqa"])
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--reranker", default="mpnet", help="reranker for hybrid+rerank (KB_RERANKER values)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sets = eval_sets()
    chosen = args.set or ["contoso", "tatqa", "hetpqa"]
    out: dict[str, Any] = {}
    for name in chosen:
        rows, ingest_s, rerank_s = run_ours(name, sets[name], {"reranker": args.reranker})
        if not args.no_baseline:
            from benchmarks.langchain_baseline import run_baseline

            base = run_baseline(sets[name])
            rows.append(
                {
                    "variant": "langchain baseline",
                    **{m: base[m] for m in METRICS},
                    "p50_ms": base.get("p50_ms"),
                    "p95_ms": base.get("p95_ms"),
                    "queries": base.get("queries"),
                }
            )
        out[name] = {
            "unit": sets[name].unit,
            "ingest_s": round(ingest_s, 1),
            "rerank_vectors_s": round(rerank_s, 1),
            "results": rows,
        }
        for row in rows:
            print(f"[{name}] " + json.dumps(row), flush=True)
    if args.no_write:
        return
    lines = []
    for name, data in out.items():
        lines += [
            f"\n### {name} ({sets[name].description.split(';')[0]}; unit: {data['unit']})\n",
            "| variant | nDCG@10 | Recall@10 | Recall@50 | MRR@10 | p50 ms | p95 ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in data["results"]:
            lines.append(
                f"| {row['variant']} | "
                + " | ".join(f"{row[m]:.3f}" for m in METRICS)
                + f" | {row['p50_ms']} | {row['p95_ms']} |"
            )
    md = (
        "## Retrieval quality (`benchmarks/retrieval_eval.py`)\n\n"
        'Command: `.venv/bin/python -m benchmarks.retrieval_eval` (needs `pip install -e ".[cpu,bench]"`). '
        "Our variants and the LangChain tutorial baseline run on the same documents, queries and qrels "
        "in the same run; latency is per query on 2 CPU cores." + "\n".join(lines)
    )
    write_results("retrieval_eval", {"sets": out, "variants": list(VARIANTS)}, md)


if __name__ == "__main__":
    main()
