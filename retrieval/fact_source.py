"""The facts of the documents a principal may read, for routing questions (cached per base)."""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select

from core.access import can_read_kb
from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase
from core.facts import facts_of
from core.types import Principal
from retrieval.filters import DocAccess, SearchFilters

_PROBE_BATCH = 200
_PROBE_IN_LIMIT = 500  # beyond this many ids, filter in Python rather than in an IN list


@dataclass(frozen=True)
class DocFacts:
    """One readable document's facts (``facts`` as stored: company, tickers, fiscal_year, ...)."""

    doc_id: str
    kb: str
    facts: dict[str, Any]


class FactSource(Protocol):
    """Where the router reads document facts from, always as seen by one principal."""

    def readable(self, filters: SearchFilters, principal: Principal) -> list[DocFacts]:
        """Facts of every ready document the principal may read that passes ``filters``."""
        ...

    def mentions(self, term: str, doc_ids: Collection[str]) -> bool:
        """Whether the text of any of ``doc_ids`` contains ``term`` as a whole word (any case)."""
        ...


@dataclass
class _KbFacts:
    kb_id: int
    marker: tuple[Any, ...]
    read_groups: list[str]
    docs: list[DocAccess]


class SqlFactSource:
    """Reads document facts from SQL; each base's rows are reloaded only when its documents change."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, _KbFacts] = {}
        self._lock = threading.Lock()

    def _kb(self, name: str) -> _KbFacts | None:
        with self.db.session() as session:
            kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name))
            if kb is None:
                return None
            marker = tuple(
                session.execute(
                    select(func.count(DocumentRow.id), func.max(DocumentRow.updated_at)).where(
                        DocumentRow.kb_id == kb.id
                    )
                ).one()
            )
            cached = self._cache.get(name)
            if cached is not None and cached.kb_id == kb.id and cached.marker == marker:
                cached.read_groups = list(kb.read_groups or [])
                return cached
            rows = session.execute(
                select(
                    DocumentRow.id, DocumentRow.access_groups, DocumentRow.scenario_tags, DocumentRow.meta
                ).where(DocumentRow.kb_id == kb.id, DocumentRow.status == "ready")
            ).all()
            loaded = _KbFacts(
                kb.id,
                marker,
                list(kb.read_groups or []),
                [DocAccess(i, list(g or []), list(t or []), dict(m or {})) for i, g, t, m in rows],
            )
        with self._lock:
            self._cache[name] = loaded
        return loaded

    def readable(self, filters: SearchFilters, principal: Principal) -> list[DocFacts]:
        out: list[DocFacts] = []
        for name in filters.kbs:
            kb = self._kb(name)
            if kb is None or not can_read_kb(kb.read_groups, principal):
                continue
            out += [DocFacts(d.id, name, facts_of(d.meta)) for d in kb.docs if d.visible(principal, filters)]
        return out

    def mentions(self, term: str, doc_ids: Collection[str]) -> bool:
        wanted = set(doc_ids)
        if not wanted or not term.strip():
            return False
        word = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.I)
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = select(ChunkRow.document_id, ChunkRow.text).where(
            ChunkRow.text.ilike(f"%{escaped}%", escape="\\")
        )
        if len(wanted) <= _PROBE_IN_LIMIT:
            query = query.where(ChunkRow.document_id.in_(wanted))
        query = query.execution_options(yield_per=_PROBE_BATCH)
        with self.db.session() as session:
            for doc_id, text in session.execute(query):
                if doc_id in wanted and word.search(text):
                    return True
        return False
