"""Rerankers: a sentence-transformers cross-encoder (any local model) and the offline default."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from core.models import torch_device
from core.types import Hit


def _body(hit: Hit) -> str:
    return hit.text


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
        self._model = None
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
            self._model.predict([(query, _body(h)) for h in hits], batch_size=self.batch_size),
            dtype=np.float32,
        ).reshape(len(hits), -1)[:, -1]
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [replace(hits[i], rerank_score=float(scores[i])) for i in order]
