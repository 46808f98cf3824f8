"""Fusion of the dense and BM25 lists (adaptive, convex, reciprocal rank), near-duplicate removal, MMR.

The default, ``adaptive``, standardises each list's scores (z-scores over its candidates) and weighs
each list per query by how clearly its best hit stands out of the rest, times a prior per list. A
retriever that is guessing (BM25 on a question in another language, an English embedder on Chinese)
has a flat score list and little say; one that found a clear match leads. Fixed weights cannot do
this: 0.6/0.4 fell below the better retriever on TAT-QA, on Chinese and on cross-lingual questions
(docs/benchmarks.md, section fusion).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from core.types import Hit

_WORD = re.compile(r"\w+", re.UNICODE)


def _merge(prev: Hit | None, hit: Hit) -> Hit:
    """The same chunk found by another retriever: keep the scores each one gave it."""
    if prev is None:
        return hit
    return replace(
        prev,
        dense_score=prev.dense_score if prev.dense_score is not None else hit.dense_score,
        sparse_score=prev.sparse_score if prev.sparse_score is not None else hit.sparse_score,
    )


def reciprocal_rank_fusion(
    rankings: list[list[Hit]], *, weights: list[float] | None = None, k: int = 60
) -> list[Hit]:
    """Sum of ``weight / (k + rank)`` over the lists a chunk appears in; keeps every stage's score."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[str, float] = {}
    merged: dict[str, Hit] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight / (k + rank)
            merged[hit.chunk_id] = _merge(merged.get(hit.chunk_id), hit)
    order = sorted(fused, key=lambda cid: -fused[cid])
    return [replace(merged[cid], fused_score=fused[cid]) for cid in order]


def _score(hit: Hit) -> float:
    value = hit.dense_score if hit.dense_score is not None else hit.sparse_score
    return float(value or 0.0)


def convex_fusion(rankings: list[list[Hit]], *, weights: list[float] | None = None) -> list[Hit]:
    """Weighted sum of each list's scores divided by that list's best score.

    A chunk missing from a list gets that list's lowest normalised score. Unlike RRF this keeps
    how *much* better one hit is than the next, so a weak retriever drags the fusion down less
    (measured on three sets in docs/benchmarks.md).
    """
    normalised: list[dict[str, float]] = []
    for ranking in rankings:
        scores = {h.chunk_id: max(_score(h), 0.0) for h in ranking}
        top = max(scores.values(), default=0.0)
        normalised.append({cid: (v / top if top > 0 else 0.0) for cid, v in scores.items()})
    return _weighted_sum(rankings, normalised, weights or [1.0] * len(rankings))


def _weighted_sum(
    rankings: Sequence[Sequence[Hit]], normalised: list[dict[str, float]], weights: Sequence[float]
) -> list[Hit]:
    """Hits ordered by the weighted sum of their normalised scores; a chunk missing from a list
    gets that list's lowest normalised score (absent is no better than the list's worst)."""
    merged: dict[str, Hit] = {}
    for ranking in rankings:
        for hit in ranking:
            merged[hit.chunk_id] = _merge(merged.get(hit.chunk_id), hit)
    floors = [min(n.values(), default=0.0) for n in normalised]
    fused = {
        cid: sum(w * n.get(cid, floor) for w, n, floor in zip(weights, normalised, floors, strict=True))
        for cid in merged
    }
    order = sorted(fused, key=lambda cid: -fused[cid])
    return [replace(merged[cid], fused_score=fused[cid]) for cid in order]


FusionMethod = Literal["adaptive", "convex", "rrf"]


def _scores(hits: Sequence[Hit], field: str) -> np.ndarray:
    return np.asarray([float(getattr(h, field) or 0.0) for h in hits], np.float64)


def confidence(scores: np.ndarray) -> float:
    """How far the best score stands above the list: ``(top - mean) / std`` (0 for a flat or tiny list)."""
    if len(scores) < 3:
        return 0.0
    spread = float(scores.std())
    return max(float(scores.max() - scores.mean()) / spread, 0.0) if spread > 1e-12 else 0.0


def adaptive_weights(
    dense: Sequence[Hit], sparse: Sequence[Hit], prior: tuple[float, float] = (0.5, 0.5)
) -> tuple[float, float]:
    """Per-query (dense, sparse) weights, summing to 1: ``prior`` scaled by each list's confidence."""
    d = prior[0] * confidence(_scores(dense, "dense_score"))
    s = prior[1] * confidence(_scores(sparse, "sparse_score"))
    if d + s <= 0:
        total = sum(prior) or 1.0
        return prior[0] / total, prior[1] / total
    return d / (d + s), s / (d + s)


def zscore_fusion(dense: Sequence[Hit], sparse: Sequence[Hit], weights: tuple[float, float]) -> list[Hit]:
    """Weighted sum of each list's standardised scores; a chunk missing from a list gets its lowest."""
    standardised: list[dict[str, float]] = []
    for hits, field in ((dense, "dense_score"), (sparse, "sparse_score")):
        values = _scores(hits, field)
        spread = float(values.std()) if len(values) else 0.0
        z = (values - values.mean()) / spread if spread > 1e-12 else np.zeros_like(values)
        standardised.append({h.chunk_id: float(v) for h, v in zip(hits, z, strict=True)})
    return _weighted_sum((dense, sparse), standardised, weights)


def fuse(
    dense: list[Hit],
    sparse: list[Hit],
    *,
    method: FusionMethod | str = "adaptive",
    weights: tuple[float, float] = (0.5, 0.5),
    rrf_k: int = 60,
) -> tuple[list[Hit], tuple[float, float]]:
    """The fused list and the (dense, sparse) weights used for this query.

    ``weights`` are the fixed weights of ``convex`` and ``rrf``, and the prior that ``adaptive``
    scales by each list's confidence.
    """
    if method == "rrf":
        return reciprocal_rank_fusion([dense, sparse], weights=list(weights), k=rrf_k), weights
    if method == "convex":
        return convex_fusion([dense, sparse], weights=list(weights)), weights
    used = adaptive_weights(dense, sparse, weights)
    return zscore_fusion(dense, sparse, used), used


def _shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


def deduplicate(hits: list[Hit], *, threshold: float = 0.9, limit: int | None = None) -> list[Hit]:
    """Drop hits whose text is a near copy (Jaccard of word 3-shingles ≥ threshold) of a better one.

    Stops once ``limit`` hits are kept (the rest are dropped), so the cost follows what is needed.
    """
    kept: list[Hit] = []
    kept_shingles: list[set[tuple[str, ...]]] = []
    for hit in hits:
        if limit is not None and len(kept) >= limit:
            break
        body = hit.text.split("\n", 1)[-1]  # ignore the heading context line
        sh = _shingles(body)
        if any(len(sh & other) / max(1, len(sh | other)) >= threshold for other in kept_shingles):
            continue
        kept.append(hit)
        kept_shingles.append(sh)
    return kept


def mmr(
    hits: list[Hit], vectors: np.ndarray, query: np.ndarray, *, k: int, lambda_: float = 0.7
) -> list[Hit]:
    """Maximal marginal relevance: trade relevance to the query against similarity to picked hits."""
    if not hits:
        return []
    relevance = vectors @ query
    chosen: list[int] = []
    candidates = list(range(len(hits)))
    while candidates and len(chosen) < k:
        if chosen:
            redundancy = (vectors[candidates] @ vectors[chosen].T).max(axis=1)
        else:
            redundancy = np.zeros(len(candidates))
        scores = lambda_ * relevance[candidates] - (1 - lambda_) * redundancy
        best = candidates[int(np.argmax(scores))]
        chosen.append(best)
        candidates.remove(best)
    return [hits[i] for i in chosen]
