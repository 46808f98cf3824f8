"""Dense retrieval: the query embedded with the knowledge base's model, searched in FAISS."""

from __future__ import annotations

import numpy as np

from core.protocols import Embedder
from core.types import Hit, Principal
from retrieval.base import gather
from retrieval.filters import SearchFilters
from retrieval.snapshot import KbSnapshot, SnapshotCache


class DenseRetriever:
    """Cosine similarity over each knowledge base's FAISS index, restricted before ranking."""

    def __init__(self, cache: SnapshotCache, embedder: Embedder) -> None:
        self.cache = cache
        self.embedder = embedder

    def search(self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None) -> list[Hit]:
        if principal is None or not query.strip():
            return []
        vector = self.embedder.embed_query([query])

        def one(snap: KbSnapshot, n: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
            if snap.vectors is None:
                return np.zeros(0, np.float32), np.zeros(0, np.int64)
            scores, ids = snap.vectors.search(vector, n, allowed_ids=allowed)
            return scores[0], ids[0]

        return gather(self.cache, one, k=k, filters=filters, principal=principal, score_field="dense_score")
