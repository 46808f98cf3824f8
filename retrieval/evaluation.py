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
from retrieval.fusion import deduplicate, fuse
from retrieval.metrics import dedupe_keys, ndcg_at, summarize
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


CALIBRATION_GRID = tuple(round(0.1 * i, 1) for i in range(1, 10))


@dataclass
class FusionReport:
    """The fusion weights hybrid used on the judged questions, and which dense prior suits them best."""

    method: str
    prior: tuple[float, float]
    dense_weight: dict[str, float]  # per-query dense weight actually used: mean, p10, p50, p90
    calibration: dict[float, float]  # dense prior (sparse = 1 - it) -> nDCG@10 of the fused lists
    best_prior: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "prior": list(self.prior),
            "dense_weight": self.dense_weight,
            "calibration": {str(p): v for p, v in self.calibration.items()},
            "best_prior": self.best_prior,
        }

    def summary(self) -> str:
        """One line for people: the weights used and the calibrated prior."""
        w = self.dense_weight
        current = self.prior[0] / (sum(self.prior) or 1.0)
        best, now = self.calibration[self.best_prior], _nearest(self.calibration, current)
        return (
            f"fusion {self.method}, prior dense {self.prior[0]:g} / sparse {self.prior[1]:g}; "
            f"dense weight per query mean {w['mean']:.2f} (p10 {w['p10']:.2f}, p90 {w['p90']:.2f}). "
            f"Calibrated on these questions: dense prior {self.best_prior:g} gives nDCG@10 {best:.3f} "
            f"(prior {current:.1f}: {now:.3f}); "
            "--calibrate records it with the base."
        )


def _nearest(grid: dict[float, float], value: float) -> float:
    return grid[min(grid, key=lambda p: abs(p - value))]


def fusion_report(
    dense: _Searches,
    sparse: _Searches,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    *,
    unit: Unit,
    kb: str,
    method: str,
    prior: tuple[float, float],
    candidates: int = 100,
    rrf_k: int = 60,
    dedupe_threshold: float = 0.9,
    query_filters: dict[str, dict[str, str]] | None = None,
) -> FusionReport:
    """Fuse each judged question's dense and BM25 candidates as hybrid does, recording the weights
    used, and score the fusion at every dense prior of ``CALIBRATION_GRID`` (the base's own
    calibration: the prior ``kb eval retrieval --calibrate`` records with the base)."""
    p = EVAL_PRINCIPAL
    lists: list[tuple[list[Hit], list[Hit], dict[str, int]]] = []
    for qid in (q for q in queries if q in qrels):
        filters = SearchFilters(kbs=(kb,), metadata=dict((query_filters or {}).get(qid) or {}))
        d = dense.search(queries[qid], k=candidates, filters=filters, principal=p)
        s = sparse.search(queries[qid], k=candidates, filters=filters, principal=p)
        lists.append((d, s, qrels[qid]))

    def quality(weights: tuple[float, float]) -> tuple[float, list[float]]:
        scores, used = [], []
        for d, s, judged in lists:
            fused, w = fuse(d, s, method=method, weights=weights, rrf_k=rrf_k)
            if dedupe_threshold < 1.0:
                fused = deduplicate(fused, threshold=dedupe_threshold, limit=10)
            scores.append(ndcg_at(dedupe_keys([hit_keys(h, unit) for h in fused[:10]]), judged))
            used.append(w[0] / (sum(w) or 1.0))
        return (float(np.mean(scores)) if scores else 0.0), used

    _, used = quality(prior)
    grid = {g: round(quality((g, round(1 - g, 1)))[0], 4) for g in CALIBRATION_GRID}
    best = max(grid, key=lambda g: (grid[g], -abs(g - 0.5)))  # ties: the more balanced prior
    weights = np.asarray(used or [prior[0] / (sum(prior) or 1.0)])
    stats = {
        "mean": float(weights.mean()),
        **{f"p{q}": float(np.percentile(weights, q)) for q in (10, 50, 90)},
    }
    return FusionReport(method, prior, stats, grid, best)
