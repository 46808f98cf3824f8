"""Sparse retrieval: BM25 in each knowledge base's keyword store."""

from __future__ import annotations

from core.catalog import base_ref
from core.db import KnowledgeBase
from core.stores.base import Scored, StoreFilter
from core.types import Hit, Principal
from retrieval.candidates import SearchStores
from retrieval.filters import SearchFilters


class SparseRetriever:
    """Keyword scores, restricted to the principal's allowed chunks before ranking."""

    def __init__(self, stores: SearchStores) -> None:
        self.stores = stores

    def candidates(
        self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None
    ) -> list[Hit]:
        if principal is None or not query.strip():
            return []

        def one(kb: KnowledgeBase, flt: StoreFilter, n: int) -> Scored:
            return self.stores.backends.get(kb.backend).keywords(base_ref(kb)).search(query, n, flt)

        return self.stores.candidates(
            one, k=k, filters=filters, principal=principal, score_field="sparse_score"
        )

    def hydrate(self, hits: list[Hit], principal: Principal | None, filters: SearchFilters) -> list[Hit]:
        return self.stores.hydrate(hits, principal, filters)

    def search(self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None) -> list[Hit]:
        found = self.candidates(query, k=k, filters=filters, principal=principal)
        return self.hydrate(found, principal, filters)
