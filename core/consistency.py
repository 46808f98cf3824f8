"""Checks that SQL and the vector index of a knowledge base agree (used by tests and `kb bases check`)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase
from core.index_store import IndexStore


def check_consistency(db: Database, store: IndexStore, kb_name: str) -> list[str]:
    """Problems found (empty when consistent): vectors without rows, rows without vectors, counts."""
    problems: list[str] = []
    with db.session() as session:
        kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == kb_name))
        if kb is None:
            return [f"knowledge base {kb_name!r} does not exist"]
        sql_ids = np.asarray(
            session.scalars(select(ChunkRow.vector_id).where(ChunkRow.kb_id == kb.id)).all(), np.int64
        )
        docs = session.execute(
            select(DocumentRow.id, DocumentRow.status, DocumentRow.chunk_count).where(
                DocumentRow.kb_id == kb.id
            )
        ).all()
        per_doc = dict(
            session.execute(
                select(ChunkRow.document_id, func.count())
                .where(ChunkRow.kb_id == kb.id)
                .group_by(ChunkRow.document_id)
            ).all()
        )
        version, dim = kb.index_version, kb.dim or 1
    if version and not store.vector_path(kb.id, version).exists():
        problems.append(f"live index file version {version} is missing")
        return problems
    index_ids = store.load_vectors(kb.id, version, dim).ids() if version else np.zeros(0, np.int64)
    extra, missing = np.setdiff1d(index_ids, sql_ids), np.setdiff1d(sql_ids, index_ids)
    if len(extra):
        problems.append(f"{len(extra)} vectors have no chunk row")
    if len(missing):
        problems.append(f"{len(missing)} chunk rows have no vector")
    if len(index_ids) != len(np.unique(index_ids)):
        problems.append("duplicate vector ids in the index")
    for doc_id, status, chunk_count in docs:
        actual = per_doc.get(doc_id, 0)
        if status == "ready" and actual != chunk_count:
            problems.append(f"document {doc_id}: {actual} chunk rows, {chunk_count} recorded")
        if status != "ready" and actual:
            problems.append(f"document {doc_id} is {status} but has {actual} chunk rows")
    return problems
