"""Search latency and recall of each search backend on synthetic 384-d chunks, half masked by permissions.

Usage: eval "$(scripts/dev_services.sh start)"
       .venv/bin/python -m benchmarks.store_latency --chunks 100000 [--backend faiss --backend postgres
           --backend milvus] [--queries 200] [--bulk] [--ef 400 --ef 1000] [--no-write]

Chunks are clustered unit vectors (2,000 centres plus noise) with Zipf-distributed words; documents
of 50 chunks alternate between groups ``staff`` and ``other``, and every query runs as a member of
``staff`` only, so the store's filter masks half of the base before ranking. Per backend: load
time through the backend's writer (SQL rows and store in batches, as ingestion commits), vector
search p50/p95 and recall@10 against exact search over the admitted half, keyword search p50/p95.
faiss and milvus keep SQL on SQLite; postgres needs KB_DATABASE_URL (PostgreSQL with pgvector);
milvus talks to KB_MILVUS_URI (or milvus-lite in-process when it is unset). ``--bulk`` loads
pgvector's rows first and builds its HNSW index once (``PostgresBackend.bulk_load``; product ingest
stays incremental); each ``--ef`` repeats the vector searches at that search width on the same load.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, text

from benchmarks.report import write_results
from core.catalog import Catalog, base_ref
from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase
from core.settings import Settings
from core.stores.base import ChunkEntry, StoreFilter
from core.stores.registry import SearchBackends

DIM, PER_DOC, CENTRES, VOCAB, WORDS_PER_CHUNK = 384, 50, 2000, 5000, 40
BATCH = 20_000


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(vectors, centre of each, texts)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CENTRES, DIM)).astype(np.float32)
    which = rng.integers(0, CENTRES, n)
    vectors = centres[which] + rng.normal(scale=0.6, size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ranks = np.minimum(rng.zipf(1.3, size=(n, WORDS_PER_CHUNK)), VOCAB) - 1
    texts = [
        " ".join(f"w{r}" for r in row) + f" topic{c} topic{c}x" for row, c in zip(ranks, which, strict=True)
    ]
    return vectors, which, texts


def load(
    settings: Settings, n: int, bulk: bool = False
) -> tuple[Database, SearchBackends, KnowledgeBase, np.ndarray, float]:
    db = Database(settings.sqlalchemy_url)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.upgrade()
    backends = SearchBackends(settings, db)
    kb = Catalog(db, backends).create("synthetic")
    with db.session() as session:
        session.get(KnowledgeBase, kb.id).dim = DIM
    kb = Catalog(db, backends).get("synthetic")
    vectors, _, texts = synthetic(n)
    keys = np.arange(1, n + 1, dtype=np.int64) * 7919  # distinct int64 keys, as vector_id would give
    backend = backends.get(settings.backend)
    t0 = time.perf_counter()
    # --bulk (postgres): rows first, the HNSW index built once at the end; product ingest stays incremental.
    bulk_load = getattr(backend, "bulk_load", None) if bulk else None
    # 4 GB: the HNSW graph of 1M 384-d rows must fit in maintenance_work_mem or the build crawls on disk
    loading = bulk_load(base_ref(kb), memory="4GB") if bulk_load else nullcontext()
    with backend.writer(base_ref(kb)) as writer, loading:
        for start in range(0, n, BATCH):
            stop = min(n, start + BATCH)
            docs = range(start // PER_DOC, (stop - 1) // PER_DOC + 1)
            with db.session() as session:
                session.execute(
                    insert(DocumentRow),
                    [
                        {
                            "id": f"d{d:08d}",
                            "kb_id": kb.id,
                            "source": f"doc{d}.txt",
                            "status": "ready",
                            "access_groups": ["staff"] if d % 2 == 0 else ["other"],
                            "chunk_count": PER_DOC,
                        }
                        for d in docs
                        if d * PER_DOC >= start
                    ],
                )
                session.execute(
                    insert(ChunkRow),
                    [
                        {
                            "id": f"c{i:012d}",
                            "document_id": f"d{i // PER_DOC:08d}",
                            "kb_id": kb.id,
                            "vector_id": int(keys[i]),
                            "position": i % PER_DOC,
                            "text": texts[i],
                        }
                        for i in range(start, stop)
                    ],
                )
                session.flush()
                writer.upsert(
                    [
                        ChunkEntry(
                            int(keys[i]),
                            f"d{i // PER_DOC:08d}",
                            texts[i],
                            vectors[i],
                            ("staff",) if (i // PER_DOC) % 2 == 0 else ("other",),
                        )
                        for i in range(start, stop)
                    ]
                )
                writer.stage(session, session.get(KnowledgeBase, kb.id))
            writer.committed()
            print(f"  loaded {stop}/{n} in {time.perf_counter() - t0:.0f}s", flush=True)
    return db, backends, Catalog(db, backends).get("synthetic"), keys, time.perf_counter() - t0


def percentiles(values: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(values, 50)), 1), round(float(np.percentile(values, 95)), 1)


def run(backend: str, n: int, n_queries: int, tmp: Path, bulk: bool, efs: list[int]) -> list[dict[str, Any]]:
    """Load once, then one result per search width in ``efs`` (the backend's default when empty)."""
    pg_url = os.environ.get("KB_DATABASE_URL", "")
    settings = Settings(
        data_dir=tmp,
        backend=backend,  # type: ignore[arg-type]
        database_url=pg_url if backend == "postgres" else f"sqlite:///{tmp / 'kb.sqlite3'}",
        milvus_prefix=f"bench{os.getpid()}",
    )
    print(f"[{backend}] loading {n} chunks", flush=True)
    db, backends, kb, keys, load_s = load(settings, n, bulk and backend == "postgres")
    load_avg_load = os.getloadavg()[0]
    store = backends.get(backend)
    vectors, _, texts = synthetic(n)
    admitted = ((np.arange(n) // PER_DOC) % 2) == 0
    rng = np.random.default_rng(1)
    picks = rng.integers(0, n, n_queries)
    queries = vectors[picks] + rng.normal(scale=0.3, size=(n_queries, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    admitted_vectors, admitted_keys = vectors[admitted], keys[admitted]
    exact = [set(admitted_keys[np.argsort(-(admitted_vectors @ q))[:10]].tolist()) for q in queries]
    allowed = set(admitted_keys.tolist())
    flt = StoreFilter(kb.id, groups=frozenset({"staff"}))
    vstore, kstore = store.vectors(base_ref(kb)), store.keywords(base_ref(kb))
    key_ms = []
    words = [" ".join(texts[i].split()[:3]) + f" {texts[i].split()[-1]}" for i in picks]
    for w in words[:5]:
        kstore.search(w, 10, flt)
    for w in words:
        t = time.perf_counter()
        kstore.search(w, 10, flt)
        key_ms.append((time.perf_counter() - t) * 1000)
    kp50, kp95 = percentiles(key_ms)
    results = []
    for ef in efs or [0]:
        width = {"postgres": "pg_ef_search", "milvus": "milvus_ef"}.get(backend)
        if ef and width:
            store.settings = settings.model_copy(update={width: ef})  # type: ignore[attr-defined]
        for q in queries[:5]:  # warm caches and connections outside the timings
            vstore.search(q, 10, flt)
        vec_ms, recalls = [], []
        for q, truth in zip(queries, exact, strict=True):
            t = time.perf_counter()
            _, found = vstore.search(q, 10, flt)
            vec_ms.append((time.perf_counter() - t) * 1000)
            recalls.append(len(set(found.tolist()) & truth) / 10)
            assert set(found.tolist()) <= allowed, "a masked chunk was returned"
        vp50, vp95 = percentiles(vec_ms)
        result = {
            "backend": backend,
            "chunks": n,
            "load": "bulk" if bulk and backend == "postgres" else "writer",
            "load_s": round(load_s, 1),
            "load_avg_during_load": load_avg_load,
            "ef": getattr(store.settings, width) if width else None,  # type: ignore[attr-defined]
            "vector_p50_ms": vp50,
            "vector_p95_ms": vp95,
            "recall@10": round(float(np.mean(recalls)), 4),
            "keyword_p50_ms": kp50,
            "keyword_p95_ms": kp95,
            "load_avg": os.getloadavg()[0],
        }
        print(result, flush=True)
        results.append(result)
    store.drop_base(kb.id)
    db.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, action="append")
    parser.add_argument("--backend", action="append", choices=["faiss", "postgres", "milvus"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--bulk", action="store_true", help="postgres: load rows, then build HNSW once")
    parser.add_argument("--ef", type=int, action="append", help="search width(s) (pgvector, Milvus)")
    args = parser.parse_args()
    sizes, backends = args.chunks or [100_000], args.backend or ["faiss", "postgres", "milvus"]
    results = []
    for n in sizes:
        for backend in backends:
            with tempfile.TemporaryDirectory() as tmp:
                results += run(backend, n, args.queries, Path(tmp), args.bulk, args.ef or [])
    if args.no_write:
        return
    lines = [
        "| chunks | backend | load | load s | search width | vector p50 ms | vector p95 ms | recall@10 | "
        "keyword p50 ms | keyword p95 ms | load avg (loading / searching) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ] + [
        f"| {r['chunks']:,} | {r['backend']} | {r['load']} | {r['load_s']} | {r['ef'] or 'exact'} | "
        f"{r['vector_p50_ms']} | {r['vector_p95_ms']} | {r['recall@10']} | {r['keyword_p50_ms']} | "
        f"{r['keyword_p95_ms']} | {r['load_avg_during_load']:.1f} / {r['load_avg']:.1f} |"
        for r in results
    ]
    command = (
        'eval "$(scripts/dev_services.sh start)"; .venv/bin/python -m benchmarks.store_latency '
        + " ".join(f"--chunks {n}" for n in sizes)
        + " "
        + " ".join(f"--backend {b}" for b in backends)
        + (" --bulk" if args.bulk else "")
        + "".join(f" --ef {ef}" for ef in args.ef or [])
    )
    md = (
        "## Store search latency and recall per backend (`benchmarks/store_latency.py`)\n\n"
        f"Command: `{command}`. Synthetic clustered 384-d chunks, half masked by permissions; "
        f"{args.queries} queries, k=10, one store call each (no embedding, no SQL hydration); recall@10 "
        "against exact search over the admitted half. Load = SQL rows + store through the backend's "
        "writer in batches of 20,000 (`bulk`: pgvector's HNSW index built once after the rows). "
        "Search width: hnsw.ef_search (pgvector), ef (Milvus). `load avg`: 1-minute load of the shared "
        "machine.\n\n" + "\n".join(lines)
    )
    write_results("store_latency", {"runs": results}, md)


if __name__ == "__main__":
    main()
