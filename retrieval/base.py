"""Retriever and Reranker protocols."""

from __future__ import annotations

from typing import Protocol

from core.types import Hit, Principal
from retrieval.filters import SearchFilters


class Retriever(Protocol):
    """Finds the chunks best matching a query among those the principal may read."""

    def search(
        self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None
    ) -> list[Hit]: ...


class CandidateRetriever(Retriever, Protocol):
    """A retriever that can also return text-less candidates, for fusion before one hydration."""

    def candidates(
        self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None
    ) -> list[Hit]: ...

    def hydrate(self, hits: list[Hit], principal: Principal | None, filters: SearchFilters) -> list[Hit]: ...


class Reranker(Protocol):
    """Reorders hits by relevance to the query; returns at most ``top_k`` with ``rerank_score`` set."""

    def rerank(self, query: str, hits: list[Hit], *, top_k: int) -> list[Hit]: ...
