"""A batch of ingestion work waiting for its commit, and how it becomes SQL rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, insert

from core.db import ChunkRow, DocumentRow, KnowledgeBase, utcnow
from core.facts import keep_admin_facts
from core.stores.base import ChunkEntry, filterable_metadata
from core.types import Chunk, Document, chunk_id, document_id, vector_id
from ingest.sources import SourceFile


@dataclass
class NewDoc:
    doc: Document
    file: SourceFile
    file_hash: str
    chunks: list[Chunk]
    version: int


@dataclass
class Batch:
    """Work waiting for the next commit."""

    new_docs: list[NewDoc] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    embedded: int = 0  # how many chunks of new_docs (in order) already have vectors
    remove_doc_ids: set[str] = field(default_factory=set)  # replaced or deleted: old chunks go
    delete_doc_ids: set[str] = field(default_factory=set)  # deleted: the row goes too
    failed_rows: list[dict[str, Any]] = field(default_factory=list)
    meta_updates: list[tuple[str, str]] = field(default_factory=list)  # (doc id, file hash)
    groups: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def chunk_count(self) -> int:
        return sum(len(d.chunks) for d in self.new_docs)

    def pending_texts(self) -> list[str]:
        texts = [c.text for d in self.new_docs for c in d.chunks]
        return texts[self.embedded :]

    def empty(self) -> bool:
        return not (self.new_docs or self.remove_doc_ids or self.failed_rows or self.meta_updates)


def chunk_rows(kb: KnowledgeBase, batch: Batch) -> tuple[list[dict[str, Any]], list[int]]:
    rows: list[dict[str, Any]] = []
    for new in batch.new_docs:
        doc_id = document_id(kb.name, new.doc.source)
        for chunk in new.chunks:
            cid = chunk_id(kb.name, new.doc.source, chunk.position, chunk.text)
            rows.append(
                {
                    "id": cid,
                    "document_id": doc_id,
                    "kb_id": kb.id,
                    "vector_id": vector_id(cid),
                    "position": chunk.position,
                    "text": chunk.text,
                    "kind": chunk.kind,
                    "page": chunk.page,
                    "page_end": chunk.page_end,
                    "heading_path": list(chunk.heading_path),
                    "char_start": chunk.char_start,
                    "char_end": chunk.char_end,
                    "ocr_confidence": chunk.ocr_confidence,
                }
            )
    return rows, [r["vector_id"] for r in rows]


def chunk_entries(batch: Batch, rows: list[dict[str, Any]]) -> list[ChunkEntry]:
    """What the search store keeps of each new chunk row (rows in ``chunk_rows`` order)."""
    if not rows:
        return []
    vectors = np.vstack(batch.vectors)
    entries: list[ChunkEntry] = []
    position = 0
    groups, tags = tuple(batch.groups), tuple(batch.tags)
    for new in batch.new_docs:
        meta = filterable_metadata(new.doc.metadata)
        for _chunk in new.chunks:
            row = rows[position]
            entries.append(
                ChunkEntry(
                    row["vector_id"], row["document_id"], row["text"], vectors[position], groups, tags, meta
                )
            )
            position += 1
    return entries


def write_rows(session: Any, kb: KnowledgeBase, batch: Batch, chunk_rows: list[dict[str, Any]]) -> None:
    if batch.remove_doc_ids:
        session.execute(delete(ChunkRow).where(ChunkRow.document_id.in_(batch.remove_doc_ids)))
    if batch.delete_doc_ids:
        session.execute(delete(DocumentRow).where(DocumentRow.id.in_(batch.delete_doc_ids)))
    groups, tags = batch.groups, batch.tags
    now = utcnow()
    for new in batch.new_docs:
        doc = new.doc
        doc_id = document_id(kb.name, doc.source)
        row = session.get(DocumentRow, doc_id) or DocumentRow(id=doc_id, kb_id=kb.id, source=doc.source)
        session.add(row)
        row.path, row.title, row.format = new.file.source, doc.title[:1024], doc.format
        row.external_id, row.content_hash = doc.external_id, doc.content_hash
        row.version = (row.version or 0) + 1
        row.status, row.error = "ready", None
        row.access_groups, row.scenario_tags = groups, tags
        meta = {**doc.metadata, "file_hash": new.file_hash, "file_path": str(new.file.path)}
        row.meta = keep_admin_facts(row.meta, meta)
        row.page_count, row.chunk_count, row.size_bytes = doc.page_count, len(new.chunks), new.file.size
        row.updated_at = now
    session.flush()
    if chunk_rows:
        session.execute(insert(ChunkRow), chunk_rows)
    for failed in batch.failed_rows:
        row = session.get(DocumentRow, failed["id"]) or DocumentRow(
            id=failed["id"], kb_id=kb.id, source=failed["source"]
        )
        session.add(row)
        row.path, row.title, row.status, row.error = (
            failed["path"],
            Path(failed["path"]).stem,
            "failed",
            failed["error"],
        )
        row.meta = {"file_hash": failed["file_hash"], "file_path": failed["file_path"]}
        row.size_bytes, row.chunk_count = failed["size"], 0
        row.access_groups, row.scenario_tags, row.updated_at = groups, tags, now
    for doc_id, file_hash in batch.meta_updates:
        row = session.get(DocumentRow, doc_id)
        if row is not None:
            row.access_groups, row.scenario_tags, row.updated_at = groups, tags, now
            row.meta = {**(row.meta or {}), "file_hash": file_hash}
