"""Candidates from the search stores of each knowledge base, and hydration of hits from SQL.

A search asks each readable base's store (``core.stores``) for chunk keys and scores under a
filter built from the caller (groups) and the request (tags, metadata, documents). Candidates are
placeholders without text; ``hydrate`` reads the text of the hits that survive fusion in one SQL
query and checks permissions again on the rows read then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import select, tuple_

from core.access import can_read, can_read_kb
from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase
from core.errors import NotFoundError
from core.stores.base import Scored, StoreFilter
from core.stores.registry import SearchBackends
from core.types import Hit, Principal
from retrieval.filters import SearchFilters, matches

StoreSearch = Callable[[KnowledgeBase, StoreFilter, int], Scored]
"""(base row, filter, k) -> scores and chunk keys from that base's store."""


@dataclass(frozen=True)
class _Ref:
    kb_id: int
    key: int


def _placeholder(kb: KnowledgeBase, key: int, score: float, field: str) -> Hit:
    return Hit(
        chunk_id=f"{kb.id}:{key}",
        document_id="",
        kb=kb.name,
        text="",
        source="",
        title="",
        page=None,
        heading_path=(),
        char_start=0,
        char_end=0,
        dense_score=score if field == "dense_score" else None,
        sparse_score=score if field == "sparse_score" else None,
        metadata={"_ref": _Ref(kb.id, key)},
    )


def store_filter(kb: KnowledgeBase, principal: Principal, filters: SearchFilters) -> StoreFilter:
    return StoreFilter(
        kb_id=kb.id,
        groups=None if principal.admin else frozenset(principal.groups),
        document_ids=filters.document_ids,
        tags=filters.tags,
        metadata=dict(filters.metadata),
    )


class SearchStores:
    """Finds each base's store, gathers candidates across bases, hydrates the final hits."""

    def __init__(self, db: Database, backends: SearchBackends) -> None:
        self.db = db
        self.backends = backends

    def bases(self, names: tuple[str, ...]) -> list[KnowledgeBase]:
        with self.db.session() as session:
            rows = {
                kb.name: kb
                for kb in session.scalars(select(KnowledgeBase).where(KnowledgeBase.name.in_(names)))
            }
        missing = [n for n in names if n not in rows]
        if missing:
            raise NotFoundError(f"knowledge base {missing[0]!r} does not exist")
        return [rows[n] for n in names]

    def candidates(
        self,
        search: StoreSearch,
        *,
        k: int,
        filters: SearchFilters,
        principal: Principal | None,
        score_field: str,
    ) -> list[Hit]:
        """Top-k placeholders over every readable base, best first. Fails closed without a principal."""
        if principal is None or k <= 0 or not filters.kbs:
            return []
        found: list[tuple[float, KnowledgeBase, int]] = []
        for kb in self.bases(filters.kbs):
            if not can_read_kb(kb.read_groups or [], principal) or not kb.dim:
                continue
            scores, keys = search(kb, store_filter(kb, principal, filters), k)
            found += [(float(s), kb, int(key)) for s, key in zip(scores, keys, strict=True)]
        found.sort(key=lambda item: -item[0])
        return [_placeholder(kb, key, score, score_field) for score, kb, key in found[:k]]

    def hydrate(
        self, placeholders: list[Hit], principal: Principal | None, filters: SearchFilters
    ) -> list[Hit]:
        """The placeholders' chunks read from SQL in one query, in order, scores kept.

        Permissions and filters are checked again on the rows read now (defence in depth against
        a document whose groups changed, or a store that lags behind SQL)."""
        refs = [h.metadata["_ref"] for h in placeholders]
        if not refs or principal is None:
            return []
        with self.db.session() as session:
            rows = session.execute(
                select(
                    ChunkRow,
                    KnowledgeBase.name,
                    KnowledgeBase.read_groups,
                    DocumentRow.title,
                    DocumentRow.source,
                    DocumentRow.external_id,
                    DocumentRow.meta,
                    DocumentRow.access_groups,
                    DocumentRow.scenario_tags,
                )
                .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
                .join(KnowledgeBase, KnowledgeBase.id == ChunkRow.kb_id)
                .where(
                    tuple_(ChunkRow.kb_id, ChunkRow.vector_id).in_([(r.kb_id, r.key) for r in refs]),
                    DocumentRow.status == "ready",
                )
            ).all()
        by_ref: dict[_Ref, Hit] = {}
        for chunk, kb_name, read_groups, title, source, external_id, meta, groups, tags in rows:
            if not (
                can_read_kb(read_groups or [], principal)
                and can_read(groups or [], principal)
                and matches(chunk.document_id, tags or [], meta or {}, filters)
            ):
                continue
            by_ref[_Ref(chunk.kb_id, chunk.vector_id)] = Hit(
                chunk_id=chunk.id,
                document_id=chunk.document_id,
                kb=kb_name,
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
                    "table": chunk.table_cells,
                    **{k: v for k, v in (meta or {}).items() if k != "file_hash"},
                },
            )
        hits: list[Hit] = []
        for placeholder, ref in zip(placeholders, refs, strict=True):
            real = by_ref.get(ref)
            if real is not None:
                hits.append(
                    replace(
                        real,
                        dense_score=placeholder.dense_score,
                        sparse_score=placeholder.sparse_score,
                        fused_score=placeholder.fused_score,
                    )
                )
        return hits
