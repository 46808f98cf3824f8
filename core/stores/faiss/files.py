"""On-disk layout of per-knowledge-base index files, versioned so SQL decides which one is live.

Writers save version N+1 next to N, then bump ``knowledge_bases.index_version`` in the same SQL
transaction as the chunk rows, then delete N. A crash at any point leaves the live version (the one
SQL names) intact; files of other versions are leftovers that ``cleanup`` removes.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from core.settings import Settings
from core.stores.faiss.vector_index import VectorIndex, resolve_factory

_VERSION_FILE = re.compile(r"^(?:vectors|sparse)\.v(\d+)\.")


class IndexStore:
    """Paths, loading, saving and cleanup of the files of each knowledge base's indexes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.index_dir

    def kb_dir(self, kb_id: int) -> Path:
        return self.root / str(kb_id)

    def vector_path(self, kb_id: int, version: int) -> Path:
        return self.kb_dir(kb_id) / f"vectors.v{version}.faiss"

    def sparse_dir(self, kb_id: int, version: int) -> Path:
        return self.kb_dir(kb_id) / f"sparse.v{version}.bm25"

    def load_vectors(self, kb_id: int, version: int, dim: int, expected_size: int = 0) -> VectorIndex:
        """The live index, or a new empty one when the base has none yet (version 0)."""
        path = self.vector_path(kb_id, version)
        use_gpu = self.settings.faiss_use_gpu
        if version > 0 and path.exists():
            return VectorIndex.load(path, use_gpu=use_gpu)
        factory = resolve_factory(
            self.settings.faiss_factory, expected_size, self.settings.faiss_hnsw_threshold
        )
        return VectorIndex.create(dim, factory, use_gpu=use_gpu)

    def save_vectors(self, kb_id: int, version: int, index: VectorIndex) -> None:
        index.save(self.vector_path(kb_id, version))

    def cleanup(self, kb_id: int, live_version: int) -> list[Path]:
        """Delete files of every version but the live one, and stray temporary files."""
        removed: list[Path] = []
        kb_dir = self.kb_dir(kb_id)
        if not kb_dir.exists():
            return removed
        for path in kb_dir.iterdir():
            match = _VERSION_FILE.match(path.name)
            stale_tmp = path.name.startswith(".") and path.name.endswith(".tmp")
            if stale_tmp or (match and int(match.group(1)) != live_version):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def drop(self, kb_id: int) -> None:
        shutil.rmtree(self.kb_dir(kb_id), ignore_errors=True)
