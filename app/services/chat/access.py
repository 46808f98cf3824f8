"""Which knowledge bases and documents a caller may read now, decided from the database.

Used before a question is answered (a base the caller may not read is a 404, as if it did not exist)
and when stored history is read back (permissions may have changed since it was written).
"""

from __future__ import annotations

from sqlalchemy import select

from core.access import can_read, can_read_kb
from core.db import Database, DocumentRow, KnowledgeBase
from core.errors import NotFoundError
from core.types import Principal


class ReadAccess:
    """Answers "may this principal read it?" for bases and documents, with current permissions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def readable_bases(self, principal: Principal) -> set[str]:
        """The names of the bases the principal may read."""
        with self.db.session() as session:
            rows = session.execute(select(KnowledgeBase.name, KnowledgeBase.read_groups)).all()
        return {name for name, groups in rows if can_read_kb(groups or [], principal)}

    def readable_kb(self, name: str, principal: Principal) -> KnowledgeBase:
        """The base if the principal may read it; otherwise 404, as if it did not exist."""
        with self.db.session() as session:
            kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name))
        if kb is None or not can_read_kb(kb.read_groups or [], principal):
            raise NotFoundError(f"knowledge base {name!r} does not exist or you may not read it")
        return kb

    def readable_documents(self, doc_ids: set[str], principal: Principal) -> set[str]:
        """The subset of ``doc_ids`` the principal may read now."""
        if not doc_ids:
            return set()
        with self.db.session() as session:
            rows = session.execute(
                select(DocumentRow.id, DocumentRow.access_groups, KnowledgeBase.read_groups)
                .join(KnowledgeBase, KnowledgeBase.id == DocumentRow.kb_id)
                .where(DocumentRow.id.in_(doc_ids))
            ).all()
        return {
            d
            for d, groups, kb_groups in rows
            if can_read_kb(kb_groups or [], principal) and can_read(groups or [], principal)
        }
