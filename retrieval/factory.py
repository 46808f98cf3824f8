"""Choose the reranker named in settings."""

from __future__ import annotations

from core.db import Database
from core.errors import ConfigError
from core.models import RESCORER_INSTALL, bundled_rescorer_dir, torch_device
from core.settings import Settings
from retrieval.base import Reranker


def build_reranker(settings: Settings, db: Database) -> Reranker | None:
    """The reranker named by ``KB_RERANKER``.

    ``none`` → no reranking. ``mpnet`` → the bundled all-mpnet-base-v2 rescorer. ``auto`` (default)
    → the rescorer when torch sees a GPU, where storing its chunk vectors is cheap; none on CPU,
    where it costs 3-4x the ingest time for no measured nDCG gain (docs/benchmarks.md).
    Anything else → a local cross-encoder directory (what to use wherever one can be copied in).
    """
    choice = settings.reranker.strip()
    lowered = choice.lower()
    if lowered in ("none", "off", ""):
        return None
    if lowered == "auto":
        lowered = "mpnet" if torch_device(settings.embedding_device) == "cuda" else "none"
        if lowered == "none":
            return None
    if lowered == "mpnet":
        from retrieval.rerank import BiEncoderRescorer
        from retrieval.rerank_store import RerankVectorStore

        model_dir = bundled_rescorer_dir(settings.data_dir / "models")
        if model_dir is None:
            raise ConfigError(f"KB_RERANKER=mpnet but its model is not installed: {RESCORER_INSTALL}")
        return BiEncoderRescorer(model_dir, RerankVectorStore(db), device=settings.embedding_device)
    from retrieval.rerank import CrossEncoderReranker

    return CrossEncoderReranker(choice, device=settings.embedding_device)
