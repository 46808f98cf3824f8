"""Embedders: the real sentence-transformers model and a deterministic hashing fake for fast tests."""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from core.models import torch_device
from core.protocols import Embedder

__all__ = ["Embedder", "HashingEmbedder", "SentenceTransformerEmbedder"]


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, loaded lazily once per process."""

    def __init__(self, model_dir: Path, *, batch_size: int = 64, device: str | None = None) -> None:
        self.model_dir = model_dir
        self.name = model_dir.name if model_dir.name != "model" else model_dir.parent.name
        self.batch_size = batch_size
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(
                        str(self.model_dir), device=torch_device(self._device), local_files_only=True
                    )

    @property
    def model(self):  # type: ignore[no-untyped-def]
        self.warm_up()
        return self._model

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Deterministic bag-of-words hashing embedder: a fast stand-in for unit tests, not for quality."""

    def __init__(self, dim: int = 384) -> None:
        self._dim = dim
        self.name = f"hashing-{dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms
