"""Protocols shared across layers (implementations live in the layer that owns them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from core.db import KnowledgeBase


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension.

    ``embed`` is for passages (what is indexed), ``embed_query`` for search queries: models trained
    with prompts ("query: " / "passage: ") need the two kinds told apart; symmetric models embed both
    the same way. ``name`` is the model name a knowledge base records with its vectors.
    """

    name: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, texts: list[str]) -> np.ndarray: ...


@runtime_checkable
class BaseEmbedders(Protocol):
    """The embedding model each knowledge base records (``ingest.base_models.BaseModels``), one
    running instance per model per process."""

    def key_for(self, kb: KnowledgeBase) -> str: ...

    def embedder(self, key: str) -> Embedder: ...


class SingleEmbedder:
    """One embedder for every base (a test fake, a benchmark of one model)."""

    def __init__(self, embedder: Embedder) -> None:
        self.one = embedder

    def key_for(self, kb: KnowledgeBase) -> str:
        return ""

    def embedder(self, key: str) -> Embedder:
        return self.one
