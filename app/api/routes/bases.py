"""Knowledge bases: list the readable ones; create, change, move, re-embed and delete (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.api.deps import AdminDep, CallerDep, ServicesDep
from app.api.schemas import KbIn, KbMigrateIn, KbOut, KbPatch, KbReembedIn

router = APIRouter()


def _kb_out(row: dict[str, Any]) -> KbOut:
    return KbOut.model_validate({k: row[k] for k in KbOut.model_fields})


@router.get("/kbs", response_model=list[KbOut], tags=["knowledge bases"])
def list_kbs(caller: CallerDep, svc: ServicesDep) -> list[KbOut]:
    return [_kb_out(r) for r in svc.bases.readable(caller.principal())]


@router.post("/kbs", response_model=KbOut, status_code=201, tags=["knowledge bases"])
def create_kb(body: KbIn, caller: AdminDep, svc: ServicesDep) -> KbOut:
    groups = svc.accounts.access_groups(body.read_groups, allow_everyone=True)
    kb = svc.bases.create(
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
    return _kb_out(svc.bases.row(body.name))


@router.patch("/kbs/{name}", response_model=KbOut, tags=["knowledge bases"])
def update_kb(name: str, body: KbPatch, caller: AdminDep, svc: ServicesDep) -> KbOut:
    groups: list[str] | None = None
    if body.read_groups is not None:
        groups = svc.accounts.access_groups(body.read_groups, allow_everyone=True)
    svc.bases.update(
        name, description=body.description, scenario=body.scenario, read_groups=groups, ocr=body.ocr
    )
    svc.audit.record(caller.username, "kb.update", name, **body.model_dump(exclude_none=True))
    return _kb_out(svc.bases.row(name))


@router.post("/kbs/{name}/migrate", status_code=202, tags=["knowledge bases"])
def migrate_kb(name: str, body: KbMigrateIn, caller: AdminDep, svc: ServicesDep) -> dict[str, str]:
    """Re-index the base into another search backend as a job (progress: GET /jobs/{id})."""
    kb, job_id = svc.bases.migrate(name, body.to, caller.id)
    svc.audit.record(caller.username, "kb.migrate", name, source=kb.backend, to=body.to, job_id=job_id)
    return {"job_id": job_id}


@router.post("/kbs/{name}/reembed", status_code=202, tags=["knowledge bases"])
def reembed_kb(name: str, body: KbReembedIn, caller: AdminDep, svc: ServicesDep) -> dict[str, str]:
    """Re-embed the base with another model as a job (progress: GET /jobs/{id}); searches use the
    old vectors until the new ones are complete."""
    kb, job_id = svc.bases.reembed(name, body.embedder, caller.id)
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
    svc.bases.delete(name)
    svc.audit.record(caller.username, "kb.delete", name)
    return Response(status_code=204)
