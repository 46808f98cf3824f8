"""Dense retrieval: the query embedded with the knowledge base's model, searched in its vector store."""

from __future__ import annotations

from core.catalog import base_ref
from core.db import KnowledgeBase
from core.protocols import Embedder
from core.stores.base import Scored, StoreFilter
from core.types import Hit, Principal
from retrieval.candidates import SearchStores
from retrieval.filters import SearchFilters


class DenseRetriever:
    """Cosine similarity in each base's vector store, restricted by the filter before ranking."""

    def __init__(self, stores: SearchStores, embedder: Embedder) -> None:
        self.stores = stores
        self.embedder = embedder

    def candidates(
        self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None
    ) -> list[Hit]:
        if principal is None or not query.strip():
            return []
        vector = self.embedder.embed_query([query])[0]

        def one(kb: KnowledgeBase, flt: StoreFilter, n: int) -> Scored:
            return self.stores.backends.get(kb.backend).vectors(base_ref(kb)).search(vector, n, flt)

        return self.stores.candidates(
            one, k=k, filters=filters, principal=principal, score_field="dense_score"
        )

    def hydrate(self, hits: list[Hit], principal: Principal | None, filters: SearchFilters) -> list[Hit]:
        return self.stores.hydrate(hits, principal, filters)

    def search(self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None) -> list[Hit]:
        found = self.candidates(query, k=k, filters=filters, principal=principal)
        return self.hydrate(found, principal, filters)
