"""Protocols shared across layers (implementations live in the layer that owns them)."""

from __future__ import annotations

from typing import Protocol

import numpy as np


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
