"""Documents as the API sees them: listing and reading as a caller, access groups, re-ingest inputs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.db import Database, DocumentRow, KnowledgeBase, utcnow
from core.errors import NotFoundError
from core.facts import apply_admin_facts, facts_of
from core.types import Principal
from retrieval.filters import can_read, can_read_kb


class DocumentService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list_readable(self, kb: KnowledgeBase, principal: Principal) -> list[DocumentRow]:
        """The base's documents the principal may read (the caller already checked the base)."""
        with self.db.session() as session:
            docs = session.scalars(
                select(DocumentRow).where(DocumentRow.kb_id == kb.id).order_by(DocumentRow.source)
            ).all()
        return [d for d in docs if can_read(d.access_groups or [], principal)]

    def readable(self, doc_id: str, principal: Principal) -> tuple[DocumentRow, str]:
        """(document, base name) if the principal may read it; otherwise 404, as if absent."""
        with self.db.session() as session:
            doc = session.get(DocumentRow, doc_id)
            kb = session.get(KnowledgeBase, doc.kb_id) if doc else None
        if (
            doc is None
            or kb is None
            or not (can_read_kb(kb.read_groups, principal) and can_read(doc.access_groups, principal))
        ):
            raise NotFoundError(f"document {doc_id} does not exist or you may not read it")
        return doc, kb.name

    def set_groups(self, doc_id: str, groups: list[str]) -> tuple[DocumentRow, str, list[str]]:
        """Replace a document's access groups: (document, base name, the groups before)."""
        with self.db.session() as session:
            doc = session.get(DocumentRow, doc_id)
            if doc is None:
                raise NotFoundError(f"document {doc_id} does not exist")
            before = list(doc.access_groups or [])
            # updated_at moves too: retrieval snapshots reload on it, so the change applies at once.
            doc.access_groups, doc.updated_at = groups, utcnow()
            kb = session.get(KnowledgeBase, doc.kb_id)
            assert kb is not None
            return doc, kb.name, before

    def set_facts(self, doc_id: str, changes: dict[str, Any]) -> tuple[DocumentRow, str, dict[str, Any]]:
        """Apply an admin's fact changes (None removes one): (document, base name, the facts before).
        Facts set here are kept when the file is re-ingested."""
        with self.db.session() as session:
            doc = session.get(DocumentRow, doc_id)
            if doc is None:
                raise NotFoundError(f"document {doc_id} does not exist")
            before = facts_of(doc.meta)
            # updated_at moves so retrieval snapshots and the routing fact cache reload at once.
            doc.meta, doc.updated_at = apply_admin_facts(dict(doc.meta or {}), changes), utcnow()
            kb = session.get(KnowledgeBase, doc.kb_id)
            assert kb is not None
            return doc, kb.name, before

    def reingest_inputs(self, doc_id: str) -> tuple[int, dict[str, Any]]:
        """(base id, job inputs) that re-read a document's stored file under its own source name."""
        with self.db.session() as session:
            doc = session.get(DocumentRow, doc_id)
        if doc is None:
            raise NotFoundError(f"document {doc_id} does not exist")
        # ``path`` is the file's source name; ``meta.file_path`` where its bytes were read from.
        file_path = (doc.meta or {}).get("file_path")
        if not file_path:
            raise NotFoundError(f"document {doc_id} has no stored file to re-read; upload it again")
        inputs = {
            "files": [{"path": file_path, "source": doc.path}],
            "groups": list(doc.access_groups or []),
            "tags": list(doc.scenario_tags or []),
        }
        return doc.kb_id, inputs
