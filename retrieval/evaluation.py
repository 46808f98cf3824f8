"""Retrieval evaluation: run each pipeline variant over judged queries and report quality and latency.

Qrels may name a BEIR corpus id (an ingested ``corpus.jsonl`` record), a source file (``doc``),
or a page as ``file.pdf#page=N`` (``page``, 1-based), so judgments work on chunked documents.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal, Protocol

import numpy as np

from core.types import Hit, Principal
from retrieval.filters import SearchFilters
from retrieval.metrics import dedupe_keys, summarize
from retrieval.routing import QueryRouter

Unit = Literal["chunk", "doc", "page"]
VARIANTS = ("bm25", "dense", "hybrid", "hybrid+rerank")
SearchFn = Callable[[str, int, SearchFilters], list[Hit]]

EVAL_PRINCIPAL = Principal(user_id="evaluation", admin=True)


def hit_keys(hit: Hit, unit: Unit) -> list[str]:
    """The qrels keys a hit stands for under ``unit``."""
    if unit == "chunk":
        return [hit.chunk_id]
    if hit.external_id:
        return [hit.external_id]
    name = PurePosixPath(hit.source).name
    if unit == "doc":
        return [name, hit.source] if name != hit.source else [name]
    if hit.page is None:
        return [name]
    last = hit.metadata.get("page_end") or hit.page
    return [f"{name}#page={p}" for p in range(hit.page, int(last) + 1)]


class _Searches(Protocol):
    def search(
        self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None
    ) -> list[Hit]: ...


def variant_searchers(
    dense: _Searches, sparse: _Searches, hybrid: Any, *, with_rerank: bool
) -> dict[str, SearchFn]:
    """One search function per pipeline variant, all as the evaluation principal (an admin)."""
    p = EVAL_PRINCIPAL
    searchers: dict[str, SearchFn] = {
        "bm25": lambda q, n, f: sparse.search(q, k=n, filters=f, principal=p),
        "dense": lambda q, n, f: dense.search(q, k=n, filters=f, principal=p),
        "hybrid": lambda q, n, f: hybrid.search(q, k=n, filters=f, principal=p, rerank=False),
    }
    if with_rerank:
        searchers["hybrid+rerank"] = lambda q, n, f: hybrid.search(
            q, k=n, filters=f, principal=p, rerank=True
        )
    return searchers


@dataclass
class VariantResult:
    """Quality and latency of one variant."""

    variant: str
    metrics: dict[str, float]
    p50_ms: float
    p95_ms: float
    routed: int | None = None  # queries whose search a named company/product/period changed
    missing: int | None = None  # queries routed to "the base does not hold that company"

    def as_dict(self) -> dict[str, float | str]:
        routing: dict[str, float] = {}
        if self.routed is not None:
            routing = {"routed": self.routed, "missing_entity": self.missing or 0}
        return {
            "variant": self.variant,
            **self.metrics,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            **routing,
        }


def evaluate(
    searchers: dict[str, SearchFn],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    *,
    unit: Unit,
    kb: str,
    k: int = 100,
    query_filters: dict[str, dict[str, str]] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    router: QueryRouter | None = None,
) -> list[VariantResult]:
    """Run every variant on every judged query. ``query_filters`` maps a query id to a metadata
    filter (e.g. the product a retail question is about). With a ``router`` each query is first
    routed by document facts (its time counts in the latency); a query routed to a missing
    company retrieves nothing, as the answering path would abstain."""
    judged = [q for q in queries if q in qrels]
    results: list[VariantResult] = []
    for name, search in searchers.items():
        rankings: dict[str, list[str]] = {}
        latencies: list[float] = []
        routed = missing = 0
        for i, qid in enumerate(judged):
            meta = (query_filters or {}).get(qid) or {}
            filters = SearchFilters(kbs=(kb,), metadata=dict(meta))
            start = time.perf_counter()
            if router is None:
                hits = search(queries[qid], k, filters)
            else:
                route = router.route(queries[qid], filters, EVAL_PRINCIPAL)
                routed += bool(route.boosts or route.filters != filters)
                missing += route.missing_entity is not None
                found = (
                    [] if route.missing_entity else search(queries[qid], route.candidate_k(k), route.filters)
                )
                hits = route.rank(found, k)
            latencies.append((time.perf_counter() - start) * 1000)
            rankings[qid] = dedupe_keys([hit_keys(h, unit) for h in hits])
            if progress:
                progress(name, i + 1, len(judged))
        lat = np.asarray(latencies) if latencies else np.zeros(1)
        results.append(
            VariantResult(
                name,
                summarize(rankings, qrels),
                round(float(np.percentile(lat, 50)), 1),
                round(float(np.percentile(lat, 95)), 1),
                None if router is None else routed,
                None if router is None else missing,
            )
        )
    return results
