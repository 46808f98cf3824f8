"""Checks that SQL and a base's search store agree (used by tests, `kb bases check` and migration)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from core.catalog import base_ref
from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase
from core.stores.registry import SearchBackends


def check_consistency(db: Database, backends: SearchBackends, kb_name: str) -> list[str]:
    """Problems found (empty when consistent): stored keys without rows, rows without keys, counts."""
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
    try:
        stored = backends.get(kb.backend).keys(base_ref(kb))
    except FileNotFoundError as exc:
        return [f"live index file is missing ({exc})"]
    extra, missing = np.setdiff1d(stored, sql_ids), np.setdiff1d(sql_ids, stored)
    if len(extra):
        problems.append(f"{len(extra)} stored vectors have no chunk row")
    if len(missing):
        problems.append(f"{len(missing)} chunk rows have no stored vector")
    if len(stored) != len(np.unique(stored)):
        problems.append("duplicate keys in the store")
    for doc_id, status, chunk_count in docs:
        actual = per_doc.get(doc_id, 0)
        if status == "ready" and actual != chunk_count:
            problems.append(f"document {doc_id}: {actual} chunk rows, {chunk_count} recorded")
        if status != "ready" and actual:
            problems.append(f"document {doc_id} is {status} but has {actual} chunk rows")
    return problems
