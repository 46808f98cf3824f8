"""FAISS wrapper: ``IndexIDMap2`` over a factory string, cosine similarity, atomic versioned files.

One ``VectorIndex`` per knowledge base. Vectors are L2-normalised so inner product = cosine.
The same code runs on CPU and GPU: when ``faiss.get_num_gpus() > 0`` searches go to a GPU clone,
while the CPU copy stays the master that is written to disk.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import faiss
import numpy as np

from core.errors import ConfigError

log = logging.getLogger(__name__)


def resolve_factory(factory: str, expected_size: int, hnsw_threshold: int) -> str:
    """Turn ``auto`` into a concrete factory string: exact Flat for small bases, HNSW32 for large ones."""
    if factory != "auto":
        return factory
    return "HNSW32" if expected_size > hnsw_threshold else "Flat"


def _normalise(vectors: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if out.ndim == 1:
        out = out[None, :]
    faiss.normalize_L2(out)
    return out


class VectorIndex:
    """Vectors keyed by int64 chunk ids. Example::

    index = VectorIndex.create(384, "Flat")
    index.add(np.array([7]), vectors)
    scores, ids = index.search(query_vectors, k=10, allowed_ids=np.array([7]))
    """

    def __init__(self, index: faiss.Index, factory: str, use_gpu: bool = True) -> None:
        self._index = index
        self.factory = factory
        self._use_gpu = use_gpu and faiss.get_num_gpus() > 0
        self._gpu_index: faiss.Index | None = None

    @classmethod
    def create(cls, dim: int, factory: str = "Flat", *, use_gpu: bool = True) -> VectorIndex:
        try:
            index = faiss.index_factory(dim, f"IDMap2,{factory}", faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise ConfigError(f"invalid FAISS factory string {factory!r}: {exc}") from exc
        return cls(index, factory, use_gpu)

    @classmethod
    def load(cls, path: Path, *, use_gpu: bool = True) -> VectorIndex:
        index = faiss.read_index(str(path))
        factory = path.with_suffix(".factory").read_text() if path.with_suffix(".factory").exists() else ""
        return cls(index, factory or "Flat", use_gpu)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def on_gpu(self) -> bool:
        return self._use_gpu

    def ids(self) -> np.ndarray:
        """All ids currently stored (int64)."""
        return faiss.vector_to_array(faiss.downcast_index(self._index).id_map).astype(np.int64)  # type: ignore[attr-defined]

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored (normalised) vectors of ``ids``, in that order."""
        return (
            np.vstack([self._index.reconstruct(int(i)) for i in ids]) if len(ids) else np.zeros((0, self.dim))
        )

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vecs = _normalise(vectors)
        if vecs.shape[1] != self.dim:
            raise ConfigError(f"vector dimension {vecs.shape[1]} does not match the index ({self.dim})")
        if not self._index.is_trained:
            self._index.train(vecs)
        self._index.add_with_ids(vecs, np.ascontiguousarray(ids, dtype=np.int64))
        self._gpu_index = None

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids; indexes without native removal (HNSW) are rebuilt from their stored vectors."""
        if len(ids) == 0:
            return 0
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        self._gpu_index = None
        try:
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))
        except RuntimeError:
            return self._rebuild_without(ids)

    def _rebuild_without(self, ids: np.ndarray) -> int:
        all_ids = self.ids()
        keep = ~np.isin(all_ids, ids)
        vectors = self.vectors_of(all_ids[keep]) if keep.any() else None
        fresh = VectorIndex.create(self.dim, self.factory, use_gpu=self._use_gpu)
        if vectors is not None:
            fresh.add(all_ids[keep], vectors)
        self._index = fresh._index
        return int((~keep).sum())

    def search(
        self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; ``allowed_ids`` restricts the search *before* ranking.

        Missing results are padded with id -1. An empty ``allowed_ids`` returns nothing.
        """
        q = _normalise(queries)
        if self.ntotal == 0 or (allowed_ids is not None and len(allowed_ids) == 0) or k <= 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        k = min(k, self.ntotal)
        if allowed_ids is None:
            if self._use_gpu:
                return self._searcher().search(q, k)
            return self._index.search(q, k, params=self._search_params(None))
        allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
        k = min(k, len(allowed))
        if self._use_gpu:
            return self._gpu_filtered_search(q, k, allowed)
        params = self._search_params(faiss.IDSelectorBatch(allowed))
        return self._index.search(q, k, params=params)

    def _search_params(self, selector: faiss.IDSelector | None) -> faiss.SearchParameters:
        # Approximate indexes search wider than FAISS's defaults (efSearch 16, nprobe 1): recall
        # matters more here than the last millisecond.
        inner = faiss.downcast_index(faiss.downcast_index(self._index).index)  # type: ignore[attr-defined]
        if isinstance(inner, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(efSearch=128)  # type: ignore[attr-defined]
        elif isinstance(inner, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(nprobe=16)  # type: ignore[call-arg]
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
        return params

    def _searcher(self) -> faiss.Index:
        if not self._use_gpu:
            return self._index
        if self._gpu_index is None:
            self._gpu_index = faiss.index_cpu_to_all_gpus(self._index)
        return self._gpu_index

    def _gpu_filtered_search(
        self, q: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        # GPU indexes take no ID selector: over-fetch and keep only allowed ids, widening until
        # every query has k allowed results or the whole index was scanned. Nothing else leaves here.
        fetch = min(self.ntotal, max(4 * k, 64))
        while True:
            scores, ids = self._searcher().search(q, fetch)
            mask = np.isin(ids, allowed)
            if mask.sum(axis=1).min() >= k or fetch >= self.ntotal:
                break
            fetch = min(self.ntotal, fetch * 4)
        out_s = np.full((len(q), k), -np.inf, np.float32)
        out_i = np.full((len(q), k), -1, np.int64)
        for row in range(len(q)):
            keep_s, keep_i = scores[row][mask[row]][:k], ids[row][mask[row]][:k]
            out_s[row, : len(keep_s)], out_i[row, : len(keep_i)] = keep_s, keep_i
        return out_s, out_i

    def save(self, path: Path) -> None:
        """Write to a temporary file, fsync, then rename into place (atomic on POSIX)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        path.with_suffix(".factory").write_text(self.factory)
