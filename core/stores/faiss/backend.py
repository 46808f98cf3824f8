"""The embedded backend: FAISS vectors and bm25s keywords in versioned files on the local disk.

A commit writes vector version N+1 next to N; the SQL transaction of the chunk rows makes N+1 live
(``knowledge_bases.index_version``); only then is N deleted. A crash at any point leaves the version
SQL names intact; other versions are leftovers the next writer removes. The BM25 index is derived
from the chunk rows once per live version, when the writer finishes (or on first search).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from core.db import Database, KnowledgeBase, touch_documents
from core.settings import Settings
from core.stores.base import BaseRef, ChunkEntry, Scored, StoreFilter, empty_scored
from core.stores.faiss.files import IndexStore
from core.stores.faiss.snapshot import SnapshotCache, build_sparse
from core.stores.locks import FileWriterLock


class FaissVectorStore:
    """Cosine search over one base's live FAISS index, restricted by an ID selector before ranking."""

    def __init__(self, snapshots: SnapshotCache, kb_id: int) -> None:
        self.snapshots = snapshots
        self.kb_id = kb_id

    def search(self, vector: np.ndarray, k: int, flt: StoreFilter) -> Scored:
        snap = self.snapshots.get(self.kb_id)
        allowed = snap.allowed_ids(flt)
        if snap.vectors is None or k <= 0 or (allowed is not None and len(allowed) == 0):
            return empty_scored()
        scores, ids = snap.vectors.search(
            np.asarray(vector, np.float32).reshape(1, -1), k, allowed_ids=allowed
        )
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]


class Bm25KeywordStore:
    """BM25 (bm25s) over one base's live sparse index, restricted by a weight mask before ranking."""

    def __init__(self, snapshots: SnapshotCache, kb_id: int) -> None:
        self.snapshots = snapshots
        self.kb_id = kb_id

    def search(self, query: str, k: int, flt: StoreFilter) -> Scored:
        snap = self.snapshots.get(self.kb_id)
        allowed = snap.allowed_ids(flt)
        if snap.sparse is None or (allowed is not None and len(allowed) == 0):
            return empty_scored()
        return snap.sparse.search(query, k, allowed_ids=allowed)


class FaissWriter:
    """Collects a batch; ``stage`` writes the next index version and names it in the SQL row."""

    def __init__(self, files: IndexStore, kb: BaseRef) -> None:
        self.files = files
        self.kb = kb
        self._upserts: list[ChunkEntry] = []
        self._deletes: list[int] = []
        self._access: list[str] = []
        self._live: int | None = None

    def upsert(self, entries: Sequence[ChunkEntry]) -> None:
        self._upserts.extend(entries)

    def delete(self, keys: Sequence[int]) -> None:
        self._deletes.extend(int(k) for k in keys)

    def set_access(
        self,
        document_id: str,
        groups: Sequence[str],
        tags: Sequence[str],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Searches read filter fields from the document rows; touching them reloads the snapshots."""
        self._access.append(document_id)

    def stage(self, session: Any, kb_row: KnowledgeBase) -> None:
        touch_documents(session, self._access)
        self._access = []
        if not (self._upserts or self._deletes):
            return
        latest = {e.key: e for e in self._upserts}  # the last upsert of a key wins
        index = self.files.load_vectors(self.kb.id, kb_row.index_version, self.kb.dim, len(latest))
        # upsert = replace; only keys present are removed (HNSW has no removal: it is rebuilt)
        gone = np.asarray(self._deletes + list(latest), np.int64)
        index.remove(gone[np.isin(gone, index.ids())])
        if latest:
            index.add(
                np.fromiter(latest, np.int64, len(latest)), np.vstack([e.vector for e in latest.values()])
            )
        new_version = kb_row.index_version + 1
        self.files.save_vectors(self.kb.id, new_version, index)
        kb_row.index_version = new_version
        self._live = new_version
        self._upserts, self._deletes = [], []

    def committed(self) -> None:
        if self._live is not None:
            self.files.cleanup(self.kb.id, self._live)


class FaissBackend:
    """FAISS + bm25s + a local folder; the embedded default."""

    name = "faiss"

    def __init__(self, settings: Settings, db: Database) -> None:
        self.db = db
        self.files = IndexStore(settings)
        self.snapshots = SnapshotCache(db, self.files)

    def vectors(self, kb: BaseRef) -> FaissVectorStore:
        return FaissVectorStore(self.snapshots, kb.id)

    def keywords(self, kb: BaseRef) -> Bm25KeywordStore:
        return Bm25KeywordStore(self.snapshots, kb.id)

    def lock(self, kb_id: int, timeout: float = 600) -> FileWriterLock:
        return FileWriterLock(self.files.kb_dir(kb_id) / ".write.lock", timeout)

    def _live_version(self, kb_id: int) -> int:
        with self.db.session() as session:
            row = session.get(KnowledgeBase, kb_id)
            return row.index_version if row is not None else 0

    @contextmanager
    def writer(self, kb: BaseRef) -> Iterator[FaissWriter]:
        with self.lock(kb.id):
            self.files.cleanup(kb.id, self._live_version(kb.id))  # what a crashed writer left
            yield FaissWriter(self.files, kb)
            self.refresh_keywords(kb.id)

    def refresh_keywords(self, kb_id: int) -> None:
        """Build the BM25 index of the live version once, so no query ever has to."""
        version = self._live_version(kb_id)
        path = self.files.sparse_dir(kb_id, version)
        if version and not path.exists():
            build_sparse(self.db, kb_id).save(path)

    def create_base(self, kb: BaseRef) -> None:
        self.files.kb_dir(kb.id).mkdir(parents=True, exist_ok=True)

    def drop_base(self, kb_id: int) -> None:
        with self.db.session() as session:
            row = session.get(KnowledgeBase, kb_id)
            if row is not None:  # no live files any more (the base moved to another backend)
                row.index_version = 0
        self.snapshots.forget(kb_id)
        self.files.drop(kb_id)

    def keys(self, kb: BaseRef) -> np.ndarray:
        version = self._live_version(kb.id)
        if not version:
            return np.zeros(0, np.int64)
        path = self.files.vector_path(kb.id, version)
        if not path.exists():
            raise FileNotFoundError(f"{path} (version {version}, named live by SQL)")
        return self.files.load_vectors(kb.id, version, kb.dim).ids()

    def export(self, kb: BaseRef, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        keys = self.keys(kb)
        if not len(keys):
            return
        index = self.files.load_vectors(kb.id, self._live_version(kb.id), kb.dim)
        for start in range(0, len(keys), batch):
            part = keys[start : start + batch]
            yield part, index.vectors_of(part)
