"""Knowledge bases, documents, uploads and ingestion jobs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse

from app.api.deps import AdminDep, CallerDep, ServicesDep
from app.api.problems import PayloadTooLarge, UnsupportedMedia
from app.api.schemas import (
    DocumentFactsOut,
    DocumentFactsPatch,
    DocumentOut,
    DocumentPatch,
    JobOut,
    KbIn,
    KbMigrateIn,
    KbOut,
    KbPatch,
    KbReembedIn,
    UploadOut,
)
from app.api.services import Services
from app.services.uploads import UploadRejected, UploadStore
from core.db import DocumentRow, IngestionJob, new_id
from core.errors import ConflictError, NotFoundError
from core.facts import fact_sources, facts_of
from core.types import EVERYONE

router = APIRouter()
JobStatus = Literal["queued", "running", "succeeded", "partial", "failed", "dead", "cancelled"]


def _check_groups(svc: Services, groups: list[str], allow_everyone: bool) -> list[str]:
    """Existing group names, sorted. A base may list ``everyone``; on a document it means "no
    narrowing", i.e. an empty list."""
    named = svc.accounts.require_groups(groups)
    return sorted([*named, EVERYONE]) if allow_everyone and EVERYONE in groups else named


def _kb_out(row: dict[str, Any]) -> KbOut:
    return KbOut.model_validate({k: row[k] for k in KbOut.model_fields})


@router.get("/kbs", response_model=list[KbOut], tags=["knowledge bases"])
def list_kbs(caller: CallerDep, svc: ServicesDep) -> list[KbOut]:
    readable = svc.access.readable_bases(caller.principal())
    return [_kb_out(r) for r in svc.ctx.catalog.list() if r["name"] in readable]


@router.post("/kbs", response_model=KbOut, status_code=201, tags=["knowledge bases"])
def create_kb(body: KbIn, caller: AdminDep, svc: ServicesDep) -> KbOut:
    groups = _check_groups(svc, body.read_groups, allow_everyone=True)
    kb = svc.ctx.catalog.create(
        body.name,
        body.scenario,
        body.description,
        read_groups=groups,
        ocr=body.ocr,
        backend=body.backend,
        embedder=body.embedder,
    )
    svc.audit.record(
        caller.username, "kb.create", body.name, read_groups=groups, backend=kb.backend, embedder=kb.embedder
    )
    return _kb_out(next(r for r in svc.ctx.catalog.list() if r["name"] == body.name))


@router.patch("/kbs/{name}", response_model=KbOut, tags=["knowledge bases"])
def update_kb(name: str, body: KbPatch, caller: AdminDep, svc: ServicesDep) -> KbOut:
    groups = None if body.read_groups is None else _check_groups(svc, body.read_groups, allow_everyone=True)
    svc.ctx.catalog.update(
        name, description=body.description, scenario=body.scenario, read_groups=groups, ocr=body.ocr
    )
    svc.audit.record(caller.username, "kb.update", name, **body.model_dump(exclude_none=True))
    return _kb_out(next(r for r in svc.ctx.catalog.list() if r["name"] == name))


@router.post("/kbs/{name}/migrate", status_code=202, tags=["knowledge bases"])
def migrate_kb(name: str, body: KbMigrateIn, caller: AdminDep, svc: ServicesDep) -> dict[str, str]:
    """Re-index the base into another search backend as a job (progress: GET /jobs/{id})."""
    kb = svc.ctx.catalog.get(name)
    if kb.backend == body.to:
        raise ConflictError(f"knowledge base {name!r} already uses the {body.to} backend")
    svc.ctx.backends.get(body.to)  # a backend that cannot work here fails now, by name
    job_id = svc.jobs.submit("migrate_base", kb.id, {"migrate_to": body.to}, caller.id)
    svc.audit.record(caller.username, "kb.migrate", name, source=kb.backend, to=body.to, job_id=job_id)
    return {"job_id": job_id}


@router.post("/kbs/{name}/reembed", status_code=202, tags=["knowledge bases"])
def reembed_kb(name: str, body: KbReembedIn, caller: AdminDep, svc: ServicesDep) -> dict[str, str]:
    """Re-embed the base with another model as a job (progress: GET /jobs/{id}); searches use the
    old vectors until the new ones are complete."""
    kb = svc.ctx.catalog.get(name)
    job_id = svc.jobs.submit("reembed_base", kb.id, {"reembed_to": body.embedder}, caller.id)
    svc.audit.record(
        caller.username,
        "kb.reembed",
        name,
        source=kb.embedder or kb.embedding_model,
        to=body.embedder,
        job_id=job_id,
    )
    return {"job_id": job_id}


@router.delete("/kbs/{name}", status_code=204, tags=["knowledge bases"])
def delete_kb(name: str, caller: AdminDep, svc: ServicesDep) -> Response:
    kb = svc.ctx.catalog.get(name)
    svc.ctx.catalog.delete(name)
    svc.ctx.blobs.delete_prefix(str(kb.id))
    svc.audit.record(caller.username, "kb.delete", name)
    return Response(status_code=204)


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
    groups = _check_groups(svc, body.access_groups, allow_everyone=False)
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
    kb = svc.ctx.catalog.get(name)
    groups = _check_groups(svc, access_groups or [], allow_everyone=False)
    store = UploadStore(svc.settings)
    try:
        staging, staged = store.stage([(f.filename, f.file) for f in files])
    except UploadRejected as exc:
        svc.audit.record(caller.username, "document.upload", name, "denied", reason=str(exc))
        if exc.status == 413:
            raise PayloadTooLarge(str(exc)) from None
        if exc.status == 415:
            raise UnsupportedMedia(str(exc)) from None
        raise ValueError(str(exc)) from None
    job_id = new_id()
    keys = store.commit(svc.ctx.blobs, kb.id, job_id, staging, staged)
    inputs = {
        "files": [{"key": k, "source": s.filename} for k, s in zip(keys, staged, strict=True)],
        "groups": groups,
        "tags": sorted(set(tags or [])),
    }
    svc.jobs.submit("ingest", kb.id, inputs, caller.id, len(keys), job_id=job_id)
    svc.audit.record(
        caller.username,
        "document.upload",
        name,
        job_id=job_id,
        files=[s.filename for s in staged],
        groups=groups,
    )
    return UploadOut(job_id=job_id, files=[{"filename": s.filename, "size": s.size} for s in staged])


def _job_out(job: IngestionJob, kb_name: str) -> JobOut:
    return JobOut(
        id=job.id,
        kb=kb_name,
        kind=job.kind,
        status=job.status,
        total_files=job.total_files,
        processed_files=job.processed_files,
        added=job.added,
        updated=job.updated,
        unchanged=job.unchanged,
        deleted=job.deleted,
        failed=job.failed,
        chunks=job.chunks,
        results=list(job.results or []),
        current=job.current if job.status in ("queued", "running") else None,
        error=job.error,
        attempts=job.attempts,
        worker=job.lease_owner,
        heartbeat_at=job.heartbeat_at,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.get("/jobs", response_model=list[JobOut], tags=["jobs"])
def list_jobs(
    _: AdminDep,
    svc: ServicesDep,
    kb: str | None = None,
    status: Annotated[JobStatus | None, Query(description="e.g. dead: jobs that gave up")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobOut]:
    return [_job_out(job, kb_name) for job, kb_name in svc.jobs.list(kb, limit, status)]


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
def get_job(job_id: str, _: AdminDep, svc: ServicesDep) -> JobOut:
    return _job_out(*svc.jobs.get(job_id))


@router.post("/jobs/{job_id}/retry", response_model=JobOut, tags=["jobs"])
def retry_job(job_id: str, caller: AdminDep, svc: ServicesDep) -> JobOut:
    """Queue a dead, failed, partial or cancelled job again, with a fresh attempt budget."""
    job = svc.jobs.retry(job_id)
    svc.audit.record(caller.username, "job.retry", job_id, kind=job.kind)
    return _job_out(*svc.jobs.get(job_id))
