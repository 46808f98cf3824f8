"""Dense retrieval: the query embedded with each knowledge base's own model, searched in its vector store."""

from __future__ import annotations

import numpy as np

from core.catalog import base_ref
from core.db import KnowledgeBase
from core.protocols import BaseEmbedders, Embedder, SingleEmbedder
from core.stores.base import Scored, StoreFilter
from core.types import Hit, Principal
from retrieval.candidates import SearchStores
from retrieval.filters import SearchFilters


class DenseRetriever:
    """Cosine similarity in each base's vector store, restricted by the filter before ranking.

    The query is embedded once per model among the searched bases (``embedders``: what each base
    records). Cosines of different models are not comparable: callers that search bases of several
    models fuse per model (``retrieval.hybrid``)."""

    def __init__(self, stores: SearchStores, embedder: Embedder | BaseEmbedders) -> None:
        self.stores = stores
        self.embedders = embedder if isinstance(embedder, BaseEmbedders) else SingleEmbedder(embedder)

    def candidates(
        self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None
    ) -> list[Hit]:
        if principal is None or not query.strip():
            return []
        vectors: dict[str, np.ndarray] = {}

        def one(kb: KnowledgeBase, flt: StoreFilter, n: int) -> Scored:
            key = self.embedders.key_for(kb)
            if key not in vectors:
                vectors[key] = self.embedders.embedder(key).embed_query([query])[0]
            return self.stores.backends.get(kb.backend).vectors(base_ref(kb)).search(vectors[key], n, flt)

        return self.stores.candidates(
            one, k=k, filters=filters, principal=principal, score_field="dense_score"
        )

    def hydrate(self, hits: list[Hit], principal: Principal | None, filters: SearchFilters) -> list[Hit]:
        return self.stores.hydrate(hits, principal, filters)

    def search(self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None) -> list[Hit]:
        found = self.candidates(query, k=k, filters=filters, principal=principal)
        return self.hydrate(found, principal, filters)
