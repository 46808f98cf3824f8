"""Sparse retrieval: BM25 (bm25s) over each knowledge base's persisted index."""

from __future__ import annotations

import numpy as np

from core.types import Hit, Principal
from retrieval.base import gather
from retrieval.filters import SearchFilters
from retrieval.snapshot import KbSnapshot, SnapshotCache


class SparseRetriever:
    """BM25 scores, restricted to the principal's allowed chunks before ranking."""

    def __init__(self, cache: SnapshotCache) -> None:
        self.cache = cache

    def search(self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None) -> list[Hit]:
        if principal is None or not query.strip():
            return []

        def one(snap: KbSnapshot, n: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
            if snap.sparse is None:
                return np.zeros(0, np.float32), np.zeros(0, np.int64)
            return snap.sparse.search(query, n, allowed_ids=allowed)

        return gather(self.cache, one, k=k, filters=filters, principal=principal, score_field="sparse_score")
