"""Search as the caller: every base named must be readable, and retrieval filters by permission."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from app.services.chat.access import ReadAccess
from core.types import Hit, Principal
from retrieval.filters import SearchFilters

if TYPE_CHECKING:
    from retrieval.hybrid import HybridRetriever


class SearchService:
    """Ranked passages for a caller from the bases they may read."""

    def __init__(self, retriever: Callable[[], HybridRetriever], access: ReadAccess) -> None:
        self.retriever = retriever  # called at the first search: the models load then
        self.access = access

    def search(
        self, query: str, *, k: int, filters: SearchFilters, principal: Principal, rerank: bool = True
    ) -> list[Hit]:
        """The top ``k`` hits; a base the principal may not read is a 404, as if it did not exist."""
        for name in filters.kbs:
            self.access.readable_kb(name, principal)
        return self.retriever().search(query, k=k, filters=filters, principal=principal, rerank=rerank)
