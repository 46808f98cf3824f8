"""LangChain adapter: our permission-aware hybrid retriever as a ``BaseRetriever``.

Example::

    lc = KnowledgeBaseRetriever(retriever=ctx.retriever, filters=SearchFilters(kbs=("hr",)),
                                principal=Principal("alice", frozenset({"hr"})), k=5)
    docs = lc.invoke("parental leave")
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from core.types import Hit, Principal
from retrieval.filters import SearchFilters


def hit_to_document(hit: Hit) -> LCDocument:
    """A LangChain document carrying everything a citation needs in its metadata."""
    return LCDocument(
        page_content=hit.text,
        metadata={
            "chunk_id": hit.chunk_id,
            "document_id": hit.document_id,
            "kb": hit.kb,
            "source": hit.source,
            "title": hit.title,
            "page": hit.page,
            "section": " > ".join(hit.heading_path) or None,
            "char_start": hit.char_start,
            "char_end": hit.char_end,
            "score": hit.score,
        },
    )


class KnowledgeBaseRetriever(BaseRetriever):
    """Wraps any of our retrievers; the principal is fixed per instance (no principal → nothing)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any
    filters: SearchFilters
    principal: Principal | None = None
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        hits = self.retriever.search(query, k=self.k, filters=self.filters, principal=self.principal)
        return [hit_to_document(h) for h in hits]
