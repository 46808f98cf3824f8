"""Per-knowledge-base snapshot of what FAISS/BM25 search needs: indexes and chunk → document maps.

Loaded once per index version (and refreshed when document access fields change), so a query
costs one cheap SQL probe, numpy masks for the filter, and the index searches.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select

from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase
from core.errors import NotFoundError
from core.stores.base import StoreFilter, filterable_metadata
from core.stores.faiss.files import IndexStore
from core.stores.faiss.sparse_index import SparseIndex, SparseIndexError
from core.stores.faiss.vector_index import VectorIndex
from core.stores.locks import FileWriterLock


@dataclass
class _Doc:
    id: str
    groups: list[str]
    tags: list[str]
    meta: dict[str, Any]


@dataclass
class KbSnapshot:
    """Immutable view of one knowledge base at one index version."""

    kb_id: int
    version: int
    marker: tuple[Any, ...]
    vectors: VectorIndex | None
    sparse: SparseIndex | None
    chunk_vids: np.ndarray  # int64 chunk keys, sorted
    chunk_doc: np.ndarray  # index into docs, aligned with chunk_vids
    docs: list[_Doc]

    def __post_init__(self) -> None:
        self._public = all(not d.groups for d in self.docs)
        self._allowed_cache: dict[tuple[Any, ...], np.ndarray | None] = {}

    def allowed_ids(self, flt: StoreFilter) -> np.ndarray | None:
        """Chunk keys the filter admits; None means every chunk.

        Cached per filter for this snapshot, so repeated callers pay a dict lookup.
        """
        if flt.unrestricted or (
            self._public and flt.document_ids is None and flt.tags is None and not flt.metadata
        ):
            return None
        key = (flt.groups, flt.document_ids, flt.tags, repr(sorted(flt.metadata.items())))
        if key not in self._allowed_cache:
            if len(self._allowed_cache) > 256:
                self._allowed_cache.clear()
            self._allowed_cache[key] = self._compute_allowed(flt)
        return self._allowed_cache[key]

    def _compute_allowed(self, flt: StoreFilter) -> np.ndarray | None:
        doc_ok = np.fromiter(
            (flt.admits(d.id, d.groups, d.tags, d.meta) for d in self.docs), dtype=bool, count=len(self.docs)
        )
        if doc_ok.all():
            return None
        return self.chunk_vids[doc_ok[self.chunk_doc]] if len(self.chunk_doc) else self.chunk_vids


class SnapshotCache:
    """Loads and caches snapshots; rebuilds the sparse index once when a version lacks one."""

    def __init__(self, db: Database, files: IndexStore) -> None:
        self.db = db
        self.files = files
        self._cache: dict[int, KbSnapshot] = {}
        self._lock = threading.Lock()

    def _probe(self, kb_id: int) -> tuple[int, tuple[Any, ...]]:
        """(live version, marker): the marker changes whenever the snapshot must reload."""
        with self.db.session() as session:
            kb = session.get(KnowledgeBase, kb_id)
            if kb is None:
                raise NotFoundError(f"knowledge base {kb_id} does not exist")
            marker = session.execute(
                select(func.count(DocumentRow.id), func.max(DocumentRow.updated_at)).where(
                    DocumentRow.kb_id == kb_id
                )
            ).one()
            return kb.index_version, (kb.index_version, kb.dim, *marker)

    def get(self, kb_id: int) -> KbSnapshot:
        version, marker = self._probe(kb_id)
        cached = self._cache.get(kb_id)
        if cached is not None and cached.marker == marker:
            return cached
        with self._lock:
            cached = self._cache.get(kb_id)
            if cached is not None and cached.marker == marker:
                return cached
            snap = self._load(kb_id, version, marker, cached)
            self._cache[kb_id] = snap
            return snap

    def forget(self, kb_id: int) -> None:
        self._cache.pop(kb_id, None)

    def _load(self, kb_id: int, version: int, marker: tuple[Any, ...], old: KbSnapshot | None) -> KbSnapshot:
        with self.db.session() as session:
            doc_rows = session.execute(
                select(
                    DocumentRow.id, DocumentRow.access_groups, DocumentRow.scenario_tags, DocumentRow.meta
                ).where(DocumentRow.kb_id == kb_id, DocumentRow.status == "ready")
            ).all()
            chunk_rows = session.execute(
                select(ChunkRow.vector_id, ChunkRow.document_id).where(ChunkRow.kb_id == kb_id)
            ).all()
        docs = [_Doc(d, list(g or []), list(t or []), filterable_metadata(m)) for d, g, t, m in doc_rows]
        position = {d.id: i for i, d in enumerate(docs)}
        pairs = sorted((vid, position[doc]) for vid, doc in chunk_rows if doc in position)
        vids = np.fromiter((p[0] for p in pairs), np.int64, count=len(pairs))
        doc_index = np.fromiter((p[1] for p in pairs), np.int64, count=len(pairs))
        same_version = old is not None and old.version == version
        vectors = old.vectors if same_version and old else self._load_vectors(kb_id, version)
        sparse = old.sparse if same_version and old else self._load_sparse(kb_id, version)
        return KbSnapshot(kb_id, version, marker, vectors, sparse, vids, doc_index, docs)

    def _load_vectors(self, kb_id: int, version: int) -> VectorIndex | None:
        if version == 0:
            return None
        return VectorIndex.load(
            self.files.vector_path(kb_id, version), use_gpu=self.files.settings.faiss_use_gpu
        )

    def _load_sparse(self, kb_id: int, version: int) -> SparseIndex | None:
        if version == 0:
            return None
        path = self.files.sparse_dir(kb_id, version)
        if path.exists():
            try:
                return SparseIndex.load(path)
            except SparseIndexError:
                pass  # damaged or built by another tokenizer: derived data, so rebuild below
        index = build_sparse(self.db, kb_id)
        with FileWriterLock(self.files.kb_dir(kb_id) / ".write.lock"):
            index.save(path)
        return index


def build_sparse(db: Database, kb_id: int) -> SparseIndex:
    """Derived data: the BM25 index of a base's chunk rows as SQL holds them now."""
    with db.session() as session:
        rows = session.execute(select(ChunkRow.vector_id, ChunkRow.text).where(ChunkRow.kb_id == kb_id)).all()
    return SparseIndex.build(np.asarray([r[0] for r in rows], np.int64), [r[1] for r in rows])
