"""Every embedder on every dev set, English, Chinese and cross-lingual: bm25 / dense / hybrid quality
and embedding throughput on CPU.

Usage: .venv/bin/python -m benchmarks.embedder_eval [--embedder minilm-int8 ...] [--set cmrc ...]
       [--cache /tmp/kb-candidates] [--no-write] [--report]

For each (embedder, corpus): ingest with the real pipeline (chunked with that embedder's tokenizer)
into a throw-away base; time one raw embedding pass over up to 256 of its chunks (passages/s, model
already loaded); for each query set on the corpus keep every query's top-100 dense and BM25 hits
(pickled under --cache, so ``benchmarks.fusion_eval`` can try fusion settings without re-embedding).
bm25 and dense are scored from those lists (hybrid, over the same lists: ``benchmarks.fusion_eval``).
Results merge into
benchmarks/results/embedder_eval.json (runs of other embedders are kept) and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from app.context import AppContext
from benchmarks.datasets import EvalSet
from benchmarks.multilingual_sets import multilingual_sets
from benchmarks.report import RESULTS, write_results
from core.db import ChunkRow
from core.settings import Settings
from core.types import Hit
from retrieval.evaluation import EVAL_PRINCIPAL, hit_keys
from retrieval.filters import SearchFilters
from retrieval.hybrid import HybridRetriever
from retrieval.metrics import dedupe_keys, read_qrels, read_queries, read_query_filters, summarize

EMBEDDERS = ("minilm", "minilm-int8", "e5-small", "embeddinggemma")
SETS = ("contoso", "tatqa", "hetpqa", "cmrc", "xling-en", "xling-zh")
K = 100
THROUGHPUT_SAMPLE = 96
RESULTS_FILE = RESULTS / "embedder_eval.json"
Lists = dict[str, tuple[list[Hit], list[Hit]]]


class CachedRetriever:
    """Returns stored hits for a query: lets the real HybridRetriever fuse cached candidate lists."""

    def __init__(self, hits: dict[str, list[Hit]]) -> None:
        self.hits = hits

    def search(self, query: str, *, k: int, filters: SearchFilters, principal: Any) -> list[Hit]:
        return self.hits[query][:k]


def score(rankings: dict[str, list[Hit]], qrels: dict[str, dict[str, int]], unit: Any) -> dict[str, float]:
    """Metrics of per-query hit lists (keys de-duplicated as in ``kb eval retrieval``)."""
    keys = {qid: dedupe_keys([hit_keys(h, unit) for h in hits]) for qid, hits in rankings.items()}
    return summarize(keys, qrels)


def hybrid_rankings(
    lists: Lists, queries: dict[str, str], hybrid: HybridRetriever, k: int = K
) -> dict[str, list[Hit]]:
    """The real hybrid retriever (fusion, de-duplication) over each query's cached lists; its top k."""
    out: dict[str, list[Hit]] = {}
    for qid, (dense, sparse) in lists.items():
        hybrid.dense = CachedRetriever({queries[qid]: dense})
        hybrid.sparse = CachedRetriever({queries[qid]: sparse})
        # candidates: the full cached lists, whatever k is (as in a live search with k=K)
        hybrid.config = replace(hybrid.config, candidates=K)
        out[qid] = hybrid.search(queries[qid], k=k, filters=SearchFilters(), principal=EVAL_PRINCIPAL)
    return out


def candidate_lists(ctx: AppContext, kb: str, evalset: EvalSet) -> tuple[Lists, dict[str, str], float]:
    """Top-K dense and BM25 hits per judged query, and the dense p50 latency in ms."""
    queries = read_queries(evalset.queries)
    qrels = read_qrels(evalset.qrels)
    filters = read_query_filters(evalset.queries, evalset.query_filter) if evalset.query_filter else {}
    lists: Lists = {}
    latencies: list[float] = []
    for qid, text in queries.items():
        if qid not in qrels:
            continue
        f = SearchFilters(kbs=(kb,), metadata=dict(filters.get(qid) or {}))
        start = time.perf_counter()
        dense = ctx.dense.search(text, k=K, filters=f, principal=EVAL_PRINCIPAL)
        latencies.append((time.perf_counter() - start) * 1000)
        sparse = ctx.sparse.search(text, k=K, filters=f, principal=EVAL_PRINCIPAL)
        lists[qid] = (dense, sparse)
    return lists, queries, float(np.percentile(latencies, 50)) if latencies else 0.0


def throughput(ctx: AppContext, kb_id: int) -> float:
    """Passages per second of one raw embedding pass over a sample of the base's chunks."""
    with ctx.db.session() as session:
        texts = list(
            session.scalars(select(ChunkRow.text).where(ChunkRow.kb_id == kb_id).limit(THROUGHPUT_SAMPLE))
        )
    ctx.embedder.embed(texts[:8])  # load the model and warm the kernels outside the timing
    start = time.perf_counter()
    ctx.embedder.embed(texts)
    return len(texts) / (time.perf_counter() - start)


def run_corpus(embedder: str, names: list[str], sets: dict[str, EvalSet], cache: Path) -> dict[str, Any]:
    """Ingest one corpus with one embedder and evaluate every query set on it."""
    first = sets[names[0]]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext(Settings(data_dir=Path(tmp), embedder=embedder, reranker="none"))
        kb = "bench"
        ctx.catalog.create(kb)
        start = time.perf_counter()
        report = ctx.pipeline.ingest(kb, list(first.docs_paths))
        ingest_s = time.perf_counter() - start
        kb_id = ctx.catalog.get(kb).id
        rate = throughput(ctx, kb_id)
        print(
            f"[{embedder}] {names}: {report.chunks} chunks in {ingest_s:.1f}s, {rate:.1f} passages/s",
            flush=True,
        )
        for name in names:
            evalset = sets[name]
            lists, queries, dense_p50 = candidate_lists(ctx, kb, evalset)
            target = cache / embedder / f"{name}.pkl"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(pickle.dumps({"queries": queries, "lists": lists, "unit": evalset.unit}))
            qrels = read_qrels(evalset.qrels)
            hybrid = HybridRetriever(CachedRetriever({}), CachedRetriever({}), config=ctx.retriever.config)
            rows = {
                "bm25": score({q: s for q, (_, s) in lists.items()}, qrels, evalset.unit),
                "dense": score({q: d for q, (d, _) in lists.items()}, qrels, evalset.unit),
                "hybrid": score(hybrid_rankings(lists, queries, hybrid), qrels, evalset.unit),
            }
            out[name] = {
                "chunks": report.chunks,
                "ingest_s": round(ingest_s, 1),
                "passages_per_s": round(rate, 1),
                "dense_query_p50_ms": round(dense_p50, 1),
                "fusion": ctx.settings.fusion,
                "load_1m": round(os.getloadavg()[0], 2),
                "variants": rows,
            }
            print(
                f"[{embedder}] {name}: " + json.dumps({k: round(v["ndcg@10"], 3) for k, v in rows.items()}),
                flush=True,
            )
    return out


def markdown(results: dict[str, dict[str, Any]], sets: dict[str, EvalSet]) -> str:
    lines = [
        "## Embedders × dev sets (`benchmarks/embedder_eval.py`)\n",
        "Command: `.venv/bin/python -m benchmarks.embedder_eval --embedder NAME --set SET …` "
        "(EmbeddingGemma needs `bash scripts/bootstrap.sh cpu,postgres,dev,llm tiny gemma`). "
        "Each corpus is chunked with the embedder's own tokenizer, so BM25 moves a little between rows. "
        "passages/s: one raw embedding pass over ≤96 of the set's chunks, model loaded, on the shared "
        "2-core machine (load = 1-minute load average at the time; 2.0 would be an idle machine's full use). "
        "Hybrid figures: the fusion table below.\n",
        "| set | embedder | chunks | passages/s | bm25 nDCG@10 | dense nDCG@10 | bm25 R@10 | dense R@10 | dense query p50 ms | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in sets:
        for embedder in EMBEDDERS:
            row = results.get(embedder, {}).get(name)
            if not row:
                continue
            v = row["variants"]
            mark = "*" if row.get("note") else ""
            lines.append(
                f"| {name} | {embedder}{mark} | {row['chunks']} | {row['passages_per_s']} | "
                + " | ".join(f"{v[x]['ndcg@10']:.3f}" for x in ("bm25", "dense"))
                + " | "
                + " | ".join(f"{v[x]['recall@10']:.3f}" for x in ("bm25", "dense"))
                + f" | {row.get('dense_query_p50_ms') or '–'} | {row.get('load_1m', '')} |"
            )
    notes = {row["note"] for rows in results.values() for row in rows.values() if row.get("note")}
    lines += [f"\n\\* {note}." for note in sorted(notes)]
    lines.append("\nSets: " + "; ".join(f"**{n}**: {s.description}" for n, s in sets.items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", action="append", choices=EMBEDDERS)
    parser.add_argument("--set", action="append", choices=SETS)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "kb-candidates")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--report", action="store_true", help="only rewrite the doc section from the JSON")
    args = parser.parse_args()
    sets = multilingual_sets()
    if args.report:
        results = json.loads(RESULTS_FILE.read_text())["results"]
        write_results("embedder_eval", {"results": results}, markdown(results, sets))
        return
    chosen = args.set or list(SETS)
    corpora: dict[tuple[Path, ...], list[str]] = {}
    for name in chosen:
        corpora.setdefault(tuple(sets[name].docs_paths), []).append(name)
    for embedder in args.embedder or ["minilm-int8"]:
        for names in corpora.values():
            rows = run_corpus(embedder, names, sets, args.cache)
            if not args.no_write:  # after each corpus, so a long run keeps what it finished
                save(embedder, rows, sets)


def save(embedder: str, rows: dict[str, Any], sets: dict[str, EvalSet]) -> None:
    """Merge one run's rows into the results file (read just before writing: other runs may have
    finished meanwhile) and rewrite the doc section."""
    stored = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {"results": {}}
    results: dict[str, dict[str, Any]] = stored["results"]
    results.setdefault(embedder, {}).update(rows)
    write_results("embedder_eval", {"results": results}, markdown(results, sets))


if __name__ == "__main__":
    main()
