"""Fusion of ranked lists (reciprocal-rank fusion), near-duplicate removal and MMR diversity."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from core.types import Hit

_WORD = re.compile(r"\w+", re.UNICODE)


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
            prev = merged.get(hit.chunk_id)
            if prev is None:
                merged[hit.chunk_id] = hit
            else:  # the same chunk from another list: keep both scores
                merged[hit.chunk_id] = replace(
                    prev,
                    dense_score=prev.dense_score if prev.dense_score is not None else hit.dense_score,
                    sparse_score=prev.sparse_score if prev.sparse_score is not None else hit.sparse_score,
                )
    order = sorted(fused, key=lambda cid: -fused[cid])
    return [replace(merged[cid], fused_score=fused[cid]) for cid in order]


def _shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


def deduplicate(hits: list[Hit], *, threshold: float = 0.9) -> list[Hit]:
    """Drop hits whose text is a near copy (Jaccard of word 3-shingles ≥ threshold) of a better one."""
    kept: list[Hit] = []
    kept_shingles: list[set[tuple[str, ...]]] = []
    for hit in hits:
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
