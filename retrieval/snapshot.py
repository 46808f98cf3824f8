"""Per-knowledge-base snapshot of what search needs: indexes and chunk → document maps.

Loaded once per index version (and refreshed when document metadata changes), so a query costs
one cheap SQL probe, numpy masks for permissions, and the index searches.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select

from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase
from core.errors import NotFoundError
from core.index_store import IndexStore
from core.sparse_index import SparseIndex, SparseIndexError
from core.types import Hit, Principal
from core.vector_index import VectorIndex
from retrieval.filters import SearchFilters, can_read, can_read_kb, matches


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
    name: str
    version: int
    marker: tuple[Any, ...]
    vectors: VectorIndex | None
    sparse: SparseIndex | None
    chunk_vids: np.ndarray  # int64 vector ids, sorted
    chunk_doc: np.ndarray  # index into docs, aligned with chunk_vids
    docs: list[_Doc]
    read_groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._public = all(not d.groups for d in self.docs)
        self._allowed_cache: dict[tuple[Any, ...], np.ndarray | None] = {}

    def allowed_ids(self, principal: Principal | None, filters: SearchFilters) -> np.ndarray | None:
        """Vector ids the principal may see under the filters; None means every chunk.

        Cached per (groups, filters) for this snapshot, so repeated callers pay a dict lookup.
        """
        if not can_read_kb(self.read_groups, principal):
            return np.zeros(0, np.int64)
        assert principal is not None
        unfiltered = filters.document_ids is None and filters.tags is None and not filters.metadata
        if unfiltered and (principal.admin or self._public):
            return None
        key = (
            principal.admin,
            principal.groups,
            filters.document_ids,
            filters.tags,
            repr(sorted(filters.metadata.items())),
        )
        if key not in self._allowed_cache:
            if len(self._allowed_cache) > 256:
                self._allowed_cache.clear()
            self._allowed_cache[key] = self._compute_allowed(principal, filters)
        return self._allowed_cache[key]

    def _compute_allowed(self, principal: Principal, filters: SearchFilters) -> np.ndarray | None:
        doc_ok = np.fromiter(
            (can_read(d.groups, principal) and matches(d.id, d.tags, d.meta, filters) for d in self.docs),
            dtype=bool,
            count=len(self.docs),
        )
        if doc_ok.all():
            return None
        return self.chunk_vids[doc_ok[self.chunk_doc]] if len(self.chunk_doc) else self.chunk_vids


class SnapshotCache:
    """Loads and caches snapshots; rebuilds the sparse index once when a version lacks one."""

    def __init__(self, db: Database, store: IndexStore) -> None:
        self.db = db
        self.store = store
        self._cache: dict[str, KbSnapshot] = {}
        self._lock = threading.Lock()

    def _probe(self, name: str) -> tuple[int, int, tuple[Any, ...]]:
        """(kb id, live version, marker): the marker changes whenever the snapshot must reload."""
        with self.db.session() as session:
            kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name))
            if kb is None:
                raise NotFoundError(f"knowledge base {name!r} does not exist")
            marker = session.execute(
                select(func.count(DocumentRow.id), func.max(DocumentRow.updated_at)).where(
                    DocumentRow.kb_id == kb.id
                )
            ).one()
            read_groups = tuple(sorted(kb.read_groups or []))
            return kb.id, kb.index_version, (kb.index_version, kb.dim, read_groups, *marker)

    def get(self, name: str) -> KbSnapshot:
        kb_id, version, marker = self._probe(name)
        cached = self._cache.get(name)
        if cached is not None and cached.marker == marker and cached.kb_id == kb_id:
            return cached
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached.marker == marker and cached.kb_id == kb_id:
                return cached
            snap = self._load(kb_id, name, version, marker, cached)
            self._cache[name] = snap
            return snap

    def _load(
        self, kb_id: int, name: str, version: int, marker: tuple[Any, ...], old: KbSnapshot | None
    ) -> KbSnapshot:
        with self.db.session() as session:
            doc_rows = session.execute(
                select(
                    DocumentRow.id, DocumentRow.access_groups, DocumentRow.scenario_tags, DocumentRow.meta
                ).where(DocumentRow.kb_id == kb_id, DocumentRow.status == "ready")
            ).all()
            chunk_rows = session.execute(
                select(ChunkRow.vector_id, ChunkRow.document_id).where(ChunkRow.kb_id == kb_id)
            ).all()
        docs = [_Doc(d, list(g or []), list(t or []), dict(m or {})) for d, g, t, m in doc_rows]
        position = {d.id: i for i, d in enumerate(docs)}
        pairs = sorted((vid, position[doc]) for vid, doc in chunk_rows if doc in position)
        vids = np.fromiter((p[0] for p in pairs), np.int64, count=len(pairs))
        doc_index = np.fromiter((p[1] for p in pairs), np.int64, count=len(pairs))
        same_version = old is not None and old.version == version and old.kb_id == kb_id
        vectors = old.vectors if same_version and old else self._load_vectors(kb_id, version)
        sparse = old.sparse if same_version and old else self._load_sparse(kb_id, version)
        read_groups = marker[2]
        return KbSnapshot(kb_id, name, version, marker, vectors, sparse, vids, doc_index, docs, read_groups)

    def _load_vectors(self, kb_id: int, version: int) -> VectorIndex | None:
        if version == 0:
            return None
        return VectorIndex.load(
            self.store.vector_path(kb_id, version), use_gpu=self.store.settings.faiss_use_gpu
        )

    def _load_sparse(self, kb_id: int, version: int) -> SparseIndex | None:
        if version == 0:
            return None
        path = self.store.sparse_dir(kb_id, version)
        if path.exists():
            try:
                return SparseIndex.load(path)
            except SparseIndexError:
                pass  # damaged or built by another tokenizer: derived data, so rebuild below
        # Derived data: build once for this version from the chunk rows and keep it on disk.
        with self.db.session() as session:
            rows = session.execute(
                select(ChunkRow.vector_id, ChunkRow.text).where(ChunkRow.kb_id == kb_id)
            ).all()
        index = SparseIndex.build(np.asarray([r[0] for r in rows], np.int64), [r[1] for r in rows])
        with self.store.lock(kb_id):
            index.save(path)
        return index

    def hydrate(
        self, snap: KbSnapshot, vector_ids: list[int], principal: Principal | None, filters: SearchFilters
    ) -> dict[int, Hit]:
        """Chunk rows (with their documents) for vector ids, as Hits without scores.

        Permissions and filters are checked again on the rows read now (defence in depth against
        a document whose groups changed since the snapshot was taken).
        """
        if not vector_ids or not can_read_kb(snap.read_groups, principal):
            return {}
        with self.db.session() as session:
            rows = session.execute(
                select(
                    ChunkRow,
                    DocumentRow.title,
                    DocumentRow.source,
                    DocumentRow.external_id,
                    DocumentRow.meta,
                    DocumentRow.access_groups,
                    DocumentRow.scenario_tags,
                )
                .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
                .where(
                    ChunkRow.kb_id == snap.kb_id,
                    ChunkRow.vector_id.in_(vector_ids),
                    DocumentRow.status == "ready",
                )
            ).all()
        hits: dict[int, Hit] = {}
        for chunk, title, source, external_id, meta, groups, tags in rows:
            if not (
                can_read(groups or [], principal)
                and matches(chunk.document_id, tags or [], meta or {}, filters)
            ):
                continue
            hits[chunk.vector_id] = Hit(
                chunk_id=chunk.id,
                document_id=chunk.document_id,
                kb=snap.name,
                text=chunk.text,
                source=source,
                title=title,
                page=chunk.page,
                heading_path=tuple(chunk.heading_path or ()),
                char_start=chunk.char_start,
                char_end=chunk.char_end,
                external_id=external_id,
                metadata={
                    "page_end": chunk.page_end,
                    "kind": chunk.kind,
                    "position": chunk.position,
                    "ocr_confidence": chunk.ocr_confidence,
                    **{k: v for k, v in (meta or {}).items() if k != "file_hash"},
                },
            )
        return hits
