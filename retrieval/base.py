"""Retriever and Reranker protocols, and the shared candidate-gathering over knowledge bases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import numpy as np

from core.types import Hit, Principal
from retrieval.filters import SearchFilters
from retrieval.snapshot import KbSnapshot, SnapshotCache


class Retriever(Protocol):
    """Finds the chunks best matching a query among those the principal may read."""

    def search(
        self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None
    ) -> list[Hit]: ...


class Reranker(Protocol):
    """Reorders hits by relevance to the query; returns at most ``top_k`` with ``rerank_score`` set."""

    def rerank(self, query: str, hits: list[Hit], *, top_k: int) -> list[Hit]: ...


SearchFn = Callable[[KbSnapshot, int, np.ndarray | None], tuple[np.ndarray, np.ndarray]]
"""(snapshot, k, allowed ids or None) -> (scores, vector ids) for one knowledge base."""


def gather(
    cache: SnapshotCache,
    search_one: SearchFn,
    *,
    k: int,
    filters: SearchFilters,
    principal: Principal | None,
    score_field: str,
) -> list[Hit]:
    """Run ``search_one`` on each knowledge base with the principal's allowed ids, merge by score,
    and hydrate the top k. Fails closed: no principal, no results."""
    if principal is None or k <= 0 or not filters.kbs:
        return []
    found: list[tuple[float, KbSnapshot, int]] = []
    for name in filters.kbs:
        snap = cache.get(name)
        allowed = snap.allowed_ids(principal, filters)
        if allowed is not None and len(allowed) == 0:
            continue
        scores, ids = search_one(snap, k, allowed)
        found += [(float(s), snap, int(i)) for s, i in zip(scores, ids, strict=True) if i >= 0]
    found.sort(key=lambda item: -item[0])
    found = found[:k]
    hits: list[Hit] = []
    by_kb: dict[int, dict[int, Hit]] = {}
    for _, snap, _ in found:
        if snap.kb_id not in by_kb:
            kb_ids = [i for _, s, i in found if s.kb_id == snap.kb_id]
            by_kb[snap.kb_id] = cache.hydrate(snap, kb_ids, principal, filters)
    for score, snap, vid in found:
        hit = by_kb[snap.kb_id].get(vid)
        if hit is not None:
            scored = (
                replace(hit, dense_score=score)
                if score_field == "dense_score"
                else replace(hit, sparse_score=score)
            )
            hits.append(scored)
    return hits
