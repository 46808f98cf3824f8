"""Move a knowledge base to another search backend: an explicit re-index, never a silent switch.

The chunk rows stay in SQL; their vectors are copied from the current backend (no re-embedding)
and their text, groups and tags come from SQL. The base keeps searching its current backend until
the target holds every chunk; then one SQL transaction switches ``knowledge_bases.backend`` and the
old backend's data is dropped. A crash before the switch leaves the base where it was; running
the migration again starts the target over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from core.catalog import Catalog, base_ref
from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase
from core.errors import ConflictError, KBError
from core.stores.base import ChunkEntry, filterable_metadata
from core.stores.registry import SearchBackends, validate_backend

MigrateProgress = Callable[[int, int], None]
"""progress(chunks copied, total chunks)"""


@dataclass(frozen=True)
class MigrationReport:
    name: str
    source: str
    target: str
    chunks: int


def chunk_records(db: Database, kb_id: int) -> tuple[dict[int, tuple[str, str]], dict[str, tuple[Any, ...]]]:
    """What stores keep of a base, from SQL: {chunk key: (document id, text)} and
    {document id: (groups, tags, filterable metadata)}."""
    with db.session() as session:
        chunks = session.execute(
            select(ChunkRow.vector_id, ChunkRow.document_id, ChunkRow.text).where(ChunkRow.kb_id == kb_id)
        ).all()
        docs = session.execute(
            select(
                DocumentRow.id, DocumentRow.access_groups, DocumentRow.scenario_tags, DocumentRow.meta
            ).where(DocumentRow.kb_id == kb_id)
        ).all()
    by_key = {int(key): (doc, body) for key, doc, body in chunks}
    by_doc = {d: (tuple(g or ()), tuple(t or ()), filterable_metadata(m)) for d, g, t, m in docs}
    return by_key, by_doc


class BaseMigrator:
    """Copies a base's search data from its backend to another one, then switches the base."""

    def __init__(self, db: Database, backends: SearchBackends) -> None:
        self.db = db
        self.backends = backends
        self.catalog = Catalog(db, backends)

    def migrate(
        self, name: str, target: str, *, progress: MigrateProgress | None = None, batch: int = 5000
    ) -> MigrationReport:
        kb = self.catalog.get(name)
        target = validate_backend(target)
        if kb.backend == target:
            raise ConflictError(f"knowledge base {name!r} already uses the {target} backend")
        source, dest = self.backends.get(kb.backend), self.backends.get(target)
        ref = base_ref(kb)
        with source.lock(kb.id):  # no ingest into the old backend while its data is copied
            kb = self.catalog.get(name)
            total = self._count(kb.id)
            dest.drop_base(kb.id)  # a previous, interrupted attempt starts over
            if ref.dim:
                dest.create_base(ref)
                self._copy(kb, source, dest, total, progress, batch)
                self._verify(kb, dest)
            with self.db.session() as session:
                row = session.get(KnowledgeBase, kb.id)
                assert row is not None
                row.backend = target
            source.drop_base(kb.id)
        return MigrationReport(name, kb.backend, target, total)

    def _count(self, kb_id: int) -> int:
        with self.db.session() as session:
            return len(session.scalars(select(ChunkRow.vector_id).where(ChunkRow.kb_id == kb_id)).all())

    def _rows(self, kb_id: int) -> tuple[dict[int, tuple[str, str]], dict[str, tuple[Any, ...]]]:
        return chunk_records(self.db, kb_id)

    def _copy(
        self,
        kb: KnowledgeBase,
        source: Any,
        dest: Any,
        total: int,
        progress: MigrateProgress | None,
        batch: int,
    ) -> None:
        chunks, docs = self._rows(kb.id)
        ref = base_ref(kb)
        done = 0
        with dest.writer(ref) as writer:
            for keys, vectors in source.export(ref, batch):
                entries = []
                for key, vector in zip(keys.tolist(), vectors, strict=True):
                    if key not in chunks:
                        continue  # a stale vector the source kept; SQL is the record
                    doc_id, body = chunks[key]
                    groups, tags, meta = docs[doc_id]
                    entries.append(ChunkEntry(key, doc_id, body, vector, groups, tags, meta))
                with self.db.session() as session:
                    kb_row = session.get(KnowledgeBase, kb.id)
                    writer.upsert(entries)
                    writer.stage(session, kb_row)
                writer.committed()
                done += len(entries)
                if progress:
                    progress(done, total)

    def _verify(self, kb: KnowledgeBase, dest: Any) -> None:
        with self.db.session() as session:
            sql_keys = np.asarray(
                session.scalars(select(ChunkRow.vector_id).where(ChunkRow.kb_id == kb.id)).all(), np.int64
            )
        stored = dest.keys(base_ref(kb))
        missing = np.setdiff1d(sql_keys, stored)
        if len(missing):
            raise KBError(
                f"{len(missing)} chunks did not reach the {dest.name} backend (vectors missing in the "
                f"{kb.backend} backend?); the base stays on {kb.backend}. Re-ingest its files, then retry."
            )
