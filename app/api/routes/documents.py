"""Documents: list and read them (permission-checked, the original file too), upload files into a
base, and change, re-ingest or delete them (admins)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse

from app.api.deps import AdminDep, CallerDep, ServicesDep
from app.api.problems import PayloadTooLarge, UnsupportedMedia
from app.api.schemas import DocumentFactsOut, DocumentFactsPatch, DocumentOut, DocumentPatch, UploadOut
from app.services.uploads import UploadRejected
from core.db import DocumentRow
from core.errors import NotFoundError
from core.facts import fact_sources, facts_of

router = APIRouter()


def _document_out(doc: DocumentRow, kb_name: str) -> DocumentOut:
    return DocumentOut(
        id=doc.id,
        kb=kb_name,
        title=doc.title,
        source=doc.source,
        format=doc.format,
        status=doc.status,
        error=doc.error,
        chunk_count=doc.chunk_count,
        page_count=doc.page_count,
        access_groups=list(doc.access_groups or []),
        tags=list(doc.scenario_tags or []),
        size_bytes=doc.size_bytes,
        updated_at=doc.updated_at,
        facts=facts_of(doc.meta),
    )


@router.get("/kbs/{name}/documents", response_model=list[DocumentOut], tags=["documents"])
def list_documents(name: str, caller: CallerDep, svc: ServicesDep) -> list[DocumentOut]:
    kb = svc.access.readable_kb(name, caller.principal())
    return [_document_out(d, kb.name) for d in svc.documents.list_readable(kb, caller.principal())]


@router.get("/documents/{doc_id}", response_model=DocumentOut, tags=["documents"])
def get_document(doc_id: str, caller: CallerDep, svc: ServicesDep) -> DocumentOut:
    return _document_out(*svc.documents.readable(doc_id, caller.principal()))


@router.get(
    "/documents/{doc_id}/file",
    tags=["documents"],
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The original file"}},
)
def get_document_file(doc_id: str, caller: CallerDep, svc: ServicesDep) -> Response:
    """The original file, inline (a PDF opens at ``#page=N``); 404 unless the caller may read it."""
    try:
        doc, kb_name = svc.documents.readable(doc_id, caller.principal())
    except NotFoundError:
        svc.audit.record(caller.username, "document.file", doc_id, "denied")
        raise
    original = svc.documents.original(doc)
    svc.audit.record(caller.username, "document.file", doc_id, kb=kb_name, source=doc.source)
    headers = {"X-Content-Type-Options": "nosniff"}
    if original.media_type != "application/pdf":  # a sandboxed PDF would not open in Chromium's viewer
        headers["Content-Security-Policy"] = "sandbox"
    if original.path is not None:
        return FileResponse(
            original.path,
            media_type=original.media_type,
            filename=original.filename,
            content_disposition_type="inline",
            headers=headers,
        )
    disposition = f"inline; filename*=UTF-8''{quote(original.filename)}"
    if original.stream is not None:
        return StreamingResponse(
            _chunks(original.stream),
            media_type=original.media_type,
            headers={**headers, "Content-Disposition": disposition},
        )
    return Response(
        original.text or "",
        media_type="text/plain; charset=utf-8",
        headers={**headers, "Content-Disposition": disposition},
    )


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while block := stream.read(1 << 16):
            yield block


@router.patch("/documents/{doc_id}", response_model=DocumentOut, tags=["documents"])
def update_document(doc_id: str, body: DocumentPatch, caller: AdminDep, svc: ServicesDep) -> DocumentOut:
    groups = svc.accounts.access_groups(body.access_groups, allow_everyone=False)
    doc, kb_name, before = svc.documents.set_groups(doc_id, groups)
    svc.audit.record(caller.username, "document.access_groups", doc_id, before=before, after=groups)
    return _document_out(doc, kb_name)


def _facts_out(doc: DocumentRow, kb_name: str) -> DocumentFactsOut:
    sources = fact_sources(doc.meta)
    facts = facts_of(doc.meta)
    return DocumentFactsOut(
        id=doc.id, kb=kb_name, facts=facts, sources={k: v for k, v in sources.items() if k in facts}
    )


@router.get("/documents/{doc_id}/facts", response_model=DocumentFactsOut, tags=["documents"])
def get_document_facts(doc_id: str, caller: AdminDep, svc: ServicesDep) -> DocumentFactsOut:
    return _facts_out(*svc.documents.readable(doc_id, caller.principal()))


@router.patch("/documents/{doc_id}/facts", response_model=DocumentFactsOut, tags=["documents"])
def update_document_facts(
    doc_id: str, body: DocumentFactsPatch, caller: AdminDep, svc: ServicesDep
) -> DocumentFactsOut:
    changes = body.model_dump(exclude_unset=True)
    doc, kb_name, before = svc.documents.set_facts(doc_id, changes)
    out = _facts_out(doc, kb_name)
    svc.audit.record(caller.username, "document.facts", doc_id, before=before, after=out.facts)
    return out


@router.delete("/documents/{doc_id}", status_code=202, tags=["documents"])
def delete_document(doc_id: str, caller: AdminDep, svc: ServicesDep) -> dict[str, str]:
    """Delete a document as a job: it leaves search when the job commits (GET /jobs/{id})."""
    doc, _ = svc.documents.readable(doc_id, caller.principal())
    job_id = svc.jobs.submit("delete_document", doc.kb_id, {"document_id": doc_id}, caller.id, 1)
    svc.audit.record(caller.username, "document.delete", doc_id, source=doc.source, job_id=job_id)
    return {"job_id": job_id}


@router.post("/documents/{doc_id}/reingest", status_code=202, tags=["documents"])
def reingest_document(doc_id: str, caller: AdminDep, svc: ServicesDep) -> dict[str, str]:
    kb_id, inputs = svc.documents.reingest_inputs(doc_id)
    job_id = svc.jobs.submit("ingest", kb_id, inputs, caller.id, 1)
    svc.audit.record(caller.username, "document.reingest", doc_id, job_id=job_id)
    return {"job_id": job_id}


@router.post("/kbs/{name}/documents", response_model=UploadOut, status_code=202, tags=["documents"])
def upload_documents(
    name: str,
    caller: AdminDep,
    svc: ServicesDep,
    files: Annotated[list[UploadFile], File(description="One or more files")],
    access_groups: Annotated[list[str] | None, Form()] = None,
    tags: Annotated[list[str] | None, Form()] = None,
) -> UploadOut:
    kb = svc.bases.get(name)
    groups = svc.accounts.access_groups(access_groups or [], allow_everyone=False)
    try:
        uploads = [(f.filename, f.file) for f in files]
        job_id, staged = svc.bases.upload(kb, uploads, groups, tags or [], caller.id)
    except UploadRejected as exc:
        svc.audit.record(caller.username, "document.upload", name, "denied", reason=str(exc))
        if exc.status == 413:
            raise PayloadTooLarge(str(exc)) from None
        if exc.status == 415:
            raise UnsupportedMedia(str(exc)) from None
        raise ValueError(str(exc)) from None
    svc.audit.record(
        caller.username,
        "document.upload",
        name,
        job_id=job_id,
        files=[s.filename for s in staged],
        groups=groups,
    )
    return UploadOut(job_id=job_id, files=[{"filename": s.filename, "size": s.size} for s in staged])
