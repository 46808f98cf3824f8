"""Documents as the API sees them: listing and reading as a caller, access groups, re-ingest inputs."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from sqlalchemy import select

from core.access import can_read, can_read_kb
from core.catalog import base_ref
from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase, utcnow
from core.errors import NotFoundError
from core.facts import apply_admin_facts, facts_of
from core.stores.base import BlobStore, filterable_metadata
from core.stores.registry import SearchBackends
from core.types import Principal

T = TypeVar("T")


@dataclass(frozen=True)
class OriginalFile:
    """What ``GET /documents/{id}/file`` sends: a file on disk, or (for one record of a multi-record
    file such as corpus.jsonl, whose other records are other documents) the record's own text."""

    filename: str
    media_type: str
    path: Path | None = None
    text: str | None = None
    stream: BinaryIO | None = None  # an uploaded file read from the blob store (local folder or S3)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DocumentService:
    def __init__(self, db: Database, backends: SearchBackends, blobs: BlobStore) -> None:
        self.db = db
        self.backends = backends
        self.blobs = blobs

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

        def change(doc: DocumentRow) -> list[str]:
            before = list(doc.access_groups or [])
            doc.access_groups = groups
            return before

        return self._rewrite(doc_id, change)

    def set_facts(self, doc_id: str, changes: dict[str, Any]) -> tuple[DocumentRow, str, dict[str, Any]]:
        """Apply an admin's fact changes (None removes one): (document, base name, the facts before).
        Facts set here are kept when the file is re-ingested."""

        def change(doc: DocumentRow) -> dict[str, Any]:
            before = facts_of(doc.meta)
            doc.meta = apply_admin_facts(dict(doc.meta or {}), changes)
            return before

        return self._rewrite(doc_id, change)

    def _rewrite(self, doc_id: str, change: Callable[[DocumentRow], T]) -> tuple[DocumentRow, str, T]:
        """Change a document row and its base's search filter fields (groups, tags, metadata) under
        the base's writer lock and in one transaction, so every backend's filters see it at once:
        (document, base name, what ``change`` returned)."""
        with self.db.session() as session:
            doc = session.get(DocumentRow, doc_id)
            kb = session.get(KnowledgeBase, doc.kb_id) if doc else None
        if doc is None or kb is None:
            raise NotFoundError(f"document {doc_id} does not exist")
        with self.backends.get(kb.backend).writer(base_ref(kb)) as writer:
            with self.db.session() as session:
                doc = session.get(DocumentRow, doc_id)
                kb_row = session.get(KnowledgeBase, kb.id)
                if doc is None or kb_row is None:
                    raise NotFoundError(f"document {doc_id} does not exist")
                result = change(doc)
                # updated_at moves too: FAISS snapshots and the routing fact cache reload on it.
                doc.updated_at = utcnow()
                writer.set_access(
                    doc_id,
                    list(doc.access_groups or []),
                    list(doc.scenario_tags or []),
                    filterable_metadata(doc.meta),
                )
                writer.stage(session, kb_row)
            writer.committed()
        return doc, kb.name, result

    def reingest_inputs(self, doc_id: str) -> tuple[int, dict[str, Any]]:
        """(base id, job inputs) that re-read a document's stored file under its own source name."""
        with self.db.session() as session:
            doc = session.get(DocumentRow, doc_id)
        if doc is None:
            raise NotFoundError(f"document {doc_id} does not exist")
        # ``path`` is the file's source name; ``meta.file_key`` (an upload in the blob store) or
        # ``meta.file_path`` (a file `kb ingest` read in place) where its bytes are.
        meta = doc.meta or {}
        if meta.get("file_key"):
            file = {"key": meta["file_key"], "source": doc.path}
        elif meta.get("file_path"):
            file = {"path": meta["file_path"], "source": doc.path}
        else:
            raise NotFoundError(f"document {doc_id} has no stored file to re-read; upload it again")
        inputs = {
            "files": [file],
            "groups": list(doc.access_groups or []),
            "tags": list(doc.scenario_tags or []),
        }
        return doc.kb_id, inputs

    def original(self, doc: DocumentRow) -> OriginalFile:
        """The document's original, as ingested; 404 when the stored file is gone or has changed
        since (serving different bytes than the cited ones would mislead)."""
        meta = doc.meta or {}
        stored = meta.get("file_path")
        name = Path(doc.source.split("#", 1)[0]).name or f"{doc.id}.txt"
        if doc.external_id:  # one record of a multi-record file: its own text only
            with self.db.session() as session:
                texts = session.scalars(
                    select(ChunkRow.text).where(ChunkRow.document_id == doc.id).order_by(ChunkRow.position)
                ).all()
            filename = f"{Path(name).stem}-{doc.external_id}.txt"
            return OriginalFile(filename, "text/plain", text="\n\n".join(texts))
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media.startswith("text/") or name.endswith((".md", ".csv", ".json", ".jsonl")):
            media = "text/plain"  # shown as text, never rendered as a page of the API's origin
        if meta.get("file_key"):  # keys name one upload (they include its job id): never rewritten
            return OriginalFile(name, media, stream=self.blobs.open(meta["file_key"]))
        path = Path(stored) if stored else None
        if path is None or not path.is_file():
            raise NotFoundError(f"the original file of document {doc.id} is no longer stored; re-upload it")
        if meta.get("file_hash") and _sha256(path) != meta["file_hash"]:
            raise NotFoundError(
                f"the stored file of document {doc.id} changed after it was indexed; re-ingest it"
            )
        return OriginalFile(name, media, path=path)
