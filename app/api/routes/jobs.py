"""Ingestion jobs: their progress and per-file outcomes, and retrying the ones that gave up (admins)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.api.deps import AdminDep, ServicesDep
from app.api.schemas import JobOut
from core.db import IngestionJob

router = APIRouter()
JobStatus = Literal["queued", "running", "succeeded", "partial", "failed", "dead", "cancelled"]


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
