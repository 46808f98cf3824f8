"""Retrieval with and without routing by document facts (company, period, product).

Usage: .venv/bin/python -m benchmarks.routing_eval [--set sec10q --set hetpqa] [--data-dir DIR] [--no-write]

- ``sec10q``: the 20 Docugami 10-Q filings (AAPL, AMZN, INTC, MSFT, NVDA; 2022 Q3 - 2023 Q3) in one
  base, the Docugami questions with page-level qrels derived by ``benchmarks.sec10q``; every
  variant with routing and without (``kb eval retrieval`` vs ``kb eval retrieval --no-route``).
- ``hetpqa``: hetPQA evidence ranking over all products in one base, three ways: the oracle
  ``asin`` filter from each query's metadata (``--filter-key asin``), product routing from the
  question's wording instead, and neither.
Each set is ingested with the real pipeline (facts stage included) into ``--data-dir`` (default: a
temporary folder; pass a folder to reuse the bases between runs, ingestion is incremental).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

from app.context import AppContext
from benchmarks.datasets import DEFAULT_SHARED, HETPQA_CORPUS, HETPQA_QRELS, HETPQA_QUERIES
from benchmarks.report import write_results
from benchmarks.sec10q import SEC10Q_QRELS, SEC10Q_QUERIES, build
from core.errors import ConflictError
from core.settings import Settings
from retrieval.evaluation import evaluate, variant_searchers
from retrieval.metrics import read_qrels, read_queries, read_query_filters

METRICS = ("ndcg@10", "recall@10", "recall@50", "mrr@10")
VARIANTS = ("bm25", "dense", "hybrid")


def _base(ctx: AppContext, name: str, paths: list[Path]) -> None:
    with contextlib.suppress(ConflictError):  # reusing --data-dir: the ingest below is incremental
        ctx.catalog.create(name, "finance" if name == "sec10q" else "retail")
    report = ctx.pipeline.ingest(name, paths)
    print(f"[{name}] ingest: {report.to_json()}", flush=True)


def _rows(label: str, results: list[Any]) -> list[dict[str, Any]]:
    return [{"setting": label, **r.as_dict()} for r in results]


def run_sec10q(ctx: AppContext, shared: Path) -> list[dict[str, Any]]:
    if not (SEC10Q_QUERIES.exists() and SEC10Q_QRELS.exists()):
        print(f"[sec10q] qrels: {build(shared)}", flush=True)
    root = shared / "datasets" if (shared / "datasets").is_dir() else shared
    _base(ctx, "sec10q", [root / "docugami_sec10q" / "docs"])
    searchers = variant_searchers(ctx.dense, ctx.sparse, ctx.retriever, with_rerank=False)
    chosen = {v: searchers[v] for v in VARIANTS}
    queries, qrels = read_queries(SEC10Q_QUERIES), read_qrels(SEC10Q_QRELS)
    rows = _rows("no routing", evaluate(chosen, queries, qrels, unit="page", kb="sec10q"))
    rows += _rows("routing", evaluate(chosen, queries, qrels, unit="page", kb="sec10q", router=ctx.router))
    return rows


def run_hetpqa(ctx: AppContext) -> list[dict[str, Any]]:
    _base(ctx, "hetpqa", [HETPQA_CORPUS])
    searchers = variant_searchers(ctx.dense, ctx.sparse, ctx.retriever, with_rerank=False)
    chosen = {v: searchers[v] for v in VARIANTS}
    queries, qrels = read_queries(HETPQA_QUERIES), read_qrels(HETPQA_QRELS)
    oracle = read_query_filters(HETPQA_QUERIES, "asin")
    rows = _rows(
        "oracle asin filter",
        evaluate(chosen, queries, qrels, unit="doc", kb="hetpqa", query_filters=oracle),
    )
    rows += _rows(
        "product routing", evaluate(chosen, queries, qrels, unit="doc", kb="hetpqa", router=ctx.router)
    )
    rows += _rows("neither", evaluate(chosen, queries, qrels, unit="doc", kb="hetpqa"))
    return rows


def _markdown(out: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "## Routing by document facts (`benchmarks/routing_eval.py`)\n",
        "Command: `.venv/bin/python -m benchmarks.routing_eval` (fusion as on main: convex 0.6 dense / "
        "0.4 BM25; chunking of this branch: table rows with their headers; no reranker; 2 CPU cores "
        "shared with other work, so latencies are noisy).",
    ]
    titles = {
        "sec10q": "Docugami SEC 10-Q, 20 filings in one base, page-level qrels (`benchmarks/sec10q.py`)",
        "hetpqa": "hetPQA evidence ranking, all products in one base (unit: evidence record)",
    }
    for name, rows in out.items():
        lines += [
            f"\n### {titles[name]}\n",
            "| setting | variant | nDCG@10 | Recall@10 | Recall@50 | MRR@10 | queries | routed | p50 ms |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            lines.append(
                f"| {row['setting']} | {row['variant']} | "
                + " | ".join(f"{row[m]:.3f}" for m in METRICS)
                + f" | {row['queries']} | {row.get('routed', '–')} | {row['p50_ms']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=["sec10q", "hetpqa"])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the bases here between runs")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext(Settings(data_dir=args.data_dir or Path(tmp), reranker="none"))
        out: dict[str, list[dict[str, Any]]] = {}
        for name in args.set or ["sec10q", "hetpqa"]:
            out[name] = run_sec10q(ctx, args.shared) if name == "sec10q" else run_hetpqa(ctx)
            for row in out[name]:
                print(f"[{name}] " + json.dumps(row), flush=True)
    if not args.no_write:
        write_results("routing_eval", {"sets": out}, _markdown(out))


if __name__ == "__main__":
    main()
