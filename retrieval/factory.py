"""Choose the reranker named in settings."""

from __future__ import annotations

import logging

from core.db import Database
from core.models import RESCORER_INSTALL, bundled_rescorer_dir
from core.settings import Settings
from retrieval.base import Reranker

log = logging.getLogger(__name__)


def build_reranker(settings: Settings, db: Database) -> Reranker | None:
    """``none`` → no reranking; ``auto`` → the bundled mpnet rescorer when its package is installed;
    any other value → a local cross-encoder directory (what to use on a GPU or with model access)."""
    choice = settings.reranker.strip()
    if choice.lower() in ("none", "off", ""):
        return None
    if choice.lower() == "auto":
        from retrieval.rerank import BiEncoderRescorer
        from retrieval.rerank_store import RerankVectorStore

        model_dir = bundled_rescorer_dir(settings.data_dir / "models")
        if model_dir is None:
            log.warning("no reranker: the bundled rescorer is not installed (%s)", RESCORER_INSTALL)
            return None
        return BiEncoderRescorer(model_dir, RerankVectorStore(db), device=settings.embedding_device)
    from retrieval.rerank import CrossEncoderReranker

    return CrossEncoderReranker(choice, device=settings.embedding_device)
