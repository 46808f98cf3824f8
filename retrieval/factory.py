"""Choose the reranker named in settings."""

from __future__ import annotations

from core.protocols import Embedder
from core.settings import Settings
from retrieval.base import Reranker


def build_reranker(settings: Settings, embedder: Embedder) -> Reranker | None:
    """``none`` → no reranking; a directory → CrossEncoderReranker; ``auto`` → the bundled default."""
    choice = settings.reranker.strip()
    if choice.lower() in ("none", "off", ""):
        return None
    if choice.lower() == "auto":
        return None
    from retrieval.rerank import CrossEncoderReranker

    return CrossEncoderReranker(choice, device=settings.embedding_device)
