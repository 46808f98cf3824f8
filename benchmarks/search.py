"""Search latency at 100k chunks: dense, BM25, hybrid and hybrid+rerank, on this machine's CPU.

Usage: .venv/bin/python -m benchmarks.search [--chunks 100000] [--queries 100] [--no-write]

The corpus is built from the real Contoso chunks: their texts repeated (each copy tagged with a
variant number) and their real embeddings perturbed with small Gaussian noise, so index sizes and
posting-list lengths are those of a 100k-chunk base while only ~1k chunks pass through the
embedder; each copy reuses its seed chunk's rescoring vector (stored at ingest in production). Queries are the Contoso evaluation questions. Also reports the recall cost of HNSW32
versus the exact Flat index and the process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select

from app.context import AppContext
from benchmarks.report import REPO, write_results
from core.db import ChunkRow, DocumentRow, KnowledgeBase
from core.settings import Settings
from core.stores.faiss.sparse_index import SparseIndex
from core.stores.faiss.vector_index import VectorIndex
from core.types import Principal, chunk_id, vector_id
from retrieval.filters import SearchFilters

CONTOSO = REPO.parent / "shared" / "datasets" / "contoso_hr_benefits"


def percentiles(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values)
    return round(float(np.percentile(arr, 50)), 1), round(float(np.percentile(arr, 95)), 1)


def build_corpus(ctx: AppContext, n_chunks: int, factory: str) -> None:
    """Ingest the real docs, then grow the base to n_chunks with tagged copies."""
    ctx.catalog.create("seed")
    ctx.pipeline.ingest("seed", [CONTOSO / "docs"])
    with ctx.db.session() as s:
        seed_rows = s.execute(select(ChunkRow.id, ChunkRow.text, ChunkRow.vector_id, ChunkRow.page)).all()
        seed = [(text, vid, page) for _, text, vid, page in seed_rows]
        kb_seed = s.scalar(select(KnowledgeBase).where(KnowledgeBase.name == "seed"))
    files = ctx.backends.get("faiss").files  # this benchmark times the faiss backend's indexes
    seed_index = files.load_vectors(kb_seed.id, kb_seed.index_version, 384)
    base_vecs = np.vstack([seed_index._index.reconstruct(int(v)) for _, v, _ in seed])
    kb = ctx.catalog.create("big")
    rng = np.random.default_rng(0)
    copies = -(-n_chunks // len(seed))
    rows, vecs = [], []
    with ctx.db.session() as s:
        for c in range(copies):
            doc_id = f"doc{c:05d}"
            s.add(
                DocumentRow(
                    id=doc_id,
                    kb_id=kb.id,
                    source=f"copy{c}.pdf",
                    path=f"copy{c}.pdf",
                    title=f"Copy {c}",
                    status="ready",
                    chunk_count=0,
                    access_groups=["staff"] if c % 2 else [],
                )
            )
            for i, (text, _, page) in enumerate(seed):
                if len(rows) >= n_chunks:
                    break
                body = f"{text}\nvariant {c}"
                cid = chunk_id("big", f"copy{c}.pdf", i, body)
                rows.append(
                    {
                        "id": cid,
                        "document_id": doc_id,
                        "kb_id": kb.id,
                        "vector_id": vector_id(cid),
                        "position": i,
                        "text": body,
                        "page": page,
                        "heading_path": [],
                        "char_start": 0,
                        "char_end": len(text),
                    }
                )
                vecs.append(base_vecs[i] + rng.normal(0, 0.05, 384).astype(np.float32))
        s.flush()
        for start in range(0, len(rows), 5000):
            s.execute(insert(ChunkRow), rows[start : start + 5000])
        big = s.get(KnowledgeBase, kb.id)
        big.index_version, big.dim = 1, 384
    if factory == "Flat":  # hybrid+rerank is timed on the Flat index only
        _copy_rerank_vectors(ctx, seed_ids=[cid for cid, *_ in seed_rows], rows=rows)
    ids = np.asarray([r["vector_id"] for r in rows], np.int64)
    index = VectorIndex.create(384, factory, use_gpu=True)
    index.add(ids, np.vstack(vecs))
    files.save_vectors(kb.id, 1, index)
    SparseIndex.build(ids, [r["text"] for r in rows]).save(files.sparse_dir(kb.id, 1))


def _copy_rerank_vectors(ctx: AppContext, seed_ids: list[str], rows: list[dict]) -> None:
    """Give each copy its seed chunk's rescoring vector, as ingest would have stored one per chunk."""
    from retrieval.rerank import BiEncoderRescorer

    reranker = ctx.reranker
    if not isinstance(reranker, BiEncoderRescorer):
        return
    kb_seed = ctx.catalog.get("seed")
    reranker.index_kb(kb_seed.id)
    seed_vecs = reranker.store.get(reranker.name, seed_ids)
    for start in range(0, len(rows), 5000):
        part = rows[start : start + 5000]
        reranker.store.put(reranker.name, {r["id"]: seed_vecs[seed_ids[r["position"]]] for r in part})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    queries = [json.loads(line)["text"] for line in (CONTOSO / "derived" / "queries.jsonl").open()][
        : args.queries
    ]
    filters = SearchFilters(kbs=("big",))
    principal = Principal("bench", frozenset({"staff"}))
    results: dict[str, object] = {"chunks": args.chunks, "queries": len(queries)}
    exact: dict[str, list[list[str]]] = {}
    for factory in ("Flat", "HNSW32"):
        with tempfile.TemporaryDirectory() as tmp:
            ctx = AppContext(Settings(data_dir=Path(tmp), reranker="mpnet"))
            t0 = time.perf_counter()
            build_corpus(ctx, args.chunks, factory)
            build_s = time.perf_counter() - t0
            r = ctx.retriever
            variants = {
                "dense": lambda q: ctx.dense.search(q, k=10, filters=filters, principal=principal),
                "bm25": lambda q: ctx.sparse.search(q, k=10, filters=filters, principal=principal),
                "hybrid": lambda q: r.search(q, k=10, filters=filters, principal=principal, rerank=False),
            }
            if factory == "Flat" and ctx.reranker is not None:
                variants["hybrid+rerank"] = lambda q: r.search(q, k=10, filters=filters, principal=principal)
            for q in queries[:3]:  # warm caches, snapshot and models outside the timings
                for fn in variants.values():
                    fn(q)
            for name, fn in variants.items():
                lat, ranked = [], []
                for q in queries:
                    t = time.perf_counter()
                    hits = fn(q)
                    lat.append((time.perf_counter() - t) * 1000)
                    ranked.append([h.chunk_id for h in hits])
                p50, p95 = percentiles(lat)
                results[f"{factory}/{name}"] = {"p50_ms": p50, "p95_ms": p95}
                print(f"{factory:>7} {name:>14}: p50 {p50} ms  p95 {p95} ms")
                if name == "dense":
                    if factory == "Flat":
                        exact["dense"] = ranked
                    else:
                        overlap = [
                            len(set(a) & set(b)) / max(1, len(a))
                            for a, b in zip(exact["dense"], ranked, strict=True)
                        ]
                        results["hnsw_recall@10_vs_flat"] = round(float(np.mean(overlap)), 4)
            kb = ctx.catalog.get("big")
            results[f"{factory}/index_mb"] = round(ctx.backends.get("faiss").files.vector_path(kb.id, 1).stat().st_size / 2**20, 1)
            results[f"{factory}/build_s"] = round(build_s, 1)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(results, indent=2))
    if args.no_write:
        return
    lines = ["| index | variant | p50 ms | p95 ms |", "|---|---|---|---|"]
    for key, value in results.items():
        if isinstance(value, dict):
            factory, name = key.split("/")
            lines.append(f"| {factory} | {name} | {value['p50_ms']} | {value['p95_ms']} |")
    md = f"""## Search latency at {args.chunks:,} chunks (`benchmarks/search.py`)

Command: `.venv/bin/python -m benchmarks.search` — {len(queries)} Contoso questions, k=10, a principal
whose groups allow half of the documents (so the permission filter is exercised), 2 CPU cores.

{chr(10).join(lines)}

HNSW32 recall@10 against exact Flat search: {results.get("hnsw_recall@10_vs_flat")}. FAISS file sizes:
Flat {results.get("Flat/index_mb")} MB, HNSW32 {results.get("HNSW32/index_mb")} MB. Peak RSS of the benchmark
process: {results["peak_rss_mb"]} MB. Targets: hybrid p95 ≤ 100 ms; hybrid+rerank p95 ≤ 1.5 s."""
    write_results("search", results, md)


if __name__ == "__main__":
    main()
