"""FAISS wrapper: cosine scores, filtering before ranking, removal, atomic versioned saves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from core.stores.faiss.vector_index import VectorIndex, resolve_factory


@pytest.fixture
def vectors() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(200, 16)).astype(np.float32)


@pytest.mark.parametrize("factory", ["Flat", "HNSW32", "IVF4,Flat"])
def test_search_filter_remove_roundtrip(factory: str, vectors: np.ndarray, tmp_path: Path) -> None:
    index = VectorIndex.create(16, factory, use_gpu=False)
    ids = np.arange(200, dtype=np.int64) * 10 + 5
    index.add(ids, vectors)
    assert index.ntotal == 200 and sorted(index.ids().tolist()) == sorted(ids.tolist())

    scores, found = index.search(vectors[:1], 1)
    assert found[0][0] == 5 and scores[0][0] == pytest.approx(1.0, abs=1e-4)  # cosine of itself

    allowed = ids[100:110]
    scores, found = index.search(vectors[:1], 5, allowed_ids=allowed)
    assert set(found[0].tolist()) <= set(allowed.tolist()) and len(found[0]) == 5
    assert list(scores[0]) == sorted(scores[0], reverse=True)
    assert index.search(vectors[:1], 5, allowed_ids=np.array([], np.int64))[1].shape == (1, 0)

    assert index.remove(np.array([5, 15])) == 2
    assert index.ntotal == 198 and 5 not in index.ids()
    path = tmp_path / "vectors.v1.faiss"
    index.save(path)
    loaded = VectorIndex.load(path, use_gpu=False)
    assert loaded.ntotal == 198 and loaded.factory == factory
    assert not list(tmp_path.glob(".*.tmp"))


def test_empty_index_and_bad_factory() -> None:
    index = VectorIndex.create(8, "Flat", use_gpu=False)
    scores, ids = index.search(np.ones((2, 8), np.float32), 10)
    assert scores.shape == (2, 0) and ids.shape == (2, 0)
    with pytest.raises(ConfigError, match="factory"):
        VectorIndex.create(8, "NoSuchIndex")
    with pytest.raises(ConfigError, match="dimension"):
        index.add(np.array([1]), np.ones((1, 4), np.float32))


def test_auto_factory_by_size() -> None:
    assert resolve_factory("auto", 1000, 200_000) == "Flat"
    assert resolve_factory("auto", 500_000, 200_000) == "HNSW32"
    assert resolve_factory("IVF1024,PQ32", 10, 200_000) == "IVF1024,PQ32"


@pytest.mark.gpu
def test_gpu_clone_filters_like_cpu(vectors: np.ndarray) -> None:
    import faiss

    if faiss.get_num_gpus() == 0:
        pytest.skip("no CUDA GPU visible to faiss")
    cpu = VectorIndex.create(16, "Flat", use_gpu=False)
    gpu = VectorIndex.create(16, "Flat", use_gpu=True)
    ids = np.arange(200, dtype=np.int64)
    cpu.add(ids, vectors)
    gpu.add(ids, vectors)
    allowed = ids[::7]
    _, a = cpu.search(vectors[:5], 10, allowed_ids=allowed)
    _, b = gpu.search(vectors[:5], 10, allowed_ids=allowed)
    assert gpu.on_gpu and (a == b).all()
