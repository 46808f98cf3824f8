"""Rerankers: a sentence-transformers cross-encoder (any local model) and the offline default."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.models import torch_device
from core.text_match import has_han
from core.types import Hit
from retrieval.rerank_store import RerankVectorStore, fill_rerank_vectors


class CrossEncoderReranker:
    """``sentence_transformers.CrossEncoder`` from a local directory (e.g. an ms-marco or bge
    reranker copied onto the machine). Loaded lazily, once per process."""

    def __init__(self, model_dir: str | Path, *, device: str | None = None, batch_size: int = 32) -> None:
        path = Path(model_dir).expanduser()
        if not path.is_dir():
            raise ConfigError(
                f"reranker {model_dir!r} is not a local directory; models are never downloaded, "
                "copy a cross-encoder folder onto the machine and point KB_RERANKER at it"
            )
        self.model_dir = path
        self.batch_size = batch_size
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(
                    str(self.model_dir), device=torch_device(self._device), local_files_only=True
                )

    def rerank(self, query: str, hits: list[Hit], *, top_k: int) -> list[Hit]:
        if not hits:
            return []
        self.warm_up()
        assert self._model is not None
        scores = np.asarray(
            self._model.predict([(query, h.text) for h in hits], batch_size=self.batch_size),
            dtype=np.float32,
        ).reshape(len(hits), -1)[:, -1]
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [replace(hits[i], rerank_score=float(scores[i])) for i in order]


class BiEncoderRescorer:
    """Rescoring with a stronger bi-encoder (default: all-mpnet-base-v2) whose chunk embeddings are
    stored at ingest time, so a query costs one query embedding and a few dot products.

    ``score = w · minmax(cos(query, chunk)) + (1 - w) · minmax(fused score)`` over the candidates
    (the stronger model alone ranked worse than the fusion on both evaluation sets; blended it gains;
    see docs/benchmarks.md). A candidate without a stored vector is embedded on the fly and stored.
    """

    def __init__(
        self, model_dir: Path, store: RerankVectorStore, *, weight: float = 0.5, device: str | None = None
    ) -> None:
        self.model_dir = model_dir
        self.name = model_dir.name
        self.store = store
        self.weight = weight
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(
                    str(self.model_dir), device=torch_device(self._device), local_files_only=True
                )
                model.max_seq_length = 256  # our chunks never exceed 256 word pieces
                self._model = model

    def embed(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        assert self._model is not None
        return np.asarray(
            self._model.encode(texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True),
            dtype=np.float32,
        )

    def index_kb(self, kb_id: int, progress: Callable[[int, int], None] | None = None) -> int:
        """Store vectors for every chunk of the knowledge base that lacks one; returns how many."""
        return fill_rerank_vectors(self.store, self.name, self.embed, kb_id, progress=progress)

    def rerank(self, query: str, hits: list[Hit], *, top_k: int) -> list[Hit]:
        if not hits:
            return []
        if has_han(query) or any(has_han(h.text) for h in hits):
            # all-mpnet-base-v2 knows English only: on Chinese text its cosines are noise, so
            # Chinese and cross-lingual searches keep the fused order
            return hits[:top_k]
        stored = self.store.get(self.name, [h.chunk_id for h in hits])
        missing = [h for h in hits if h.chunk_id not in stored]
        if missing:
            fresh = self.embed([h.text for h in missing])
            self.store.put(self.name, {h.chunk_id: v for h, v in zip(missing, fresh, strict=True)})
            stored.update({h.chunk_id: v for h, v in zip(missing, fresh, strict=True)})
        q = self.embed([query])[0]
        cos = np.asarray([float(stored[h.chunk_id] @ q) for h in hits])
        fused = np.asarray([h.fused_score if h.fused_score is not None else h.score for h in hits])
        scores = self.weight * _minmax(cos) + (1 - self.weight) * _minmax(fused)
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [replace(hits[i], rerank_score=float(scores[i])) for i in order]


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)
