"""Jobs as the API and CLI see them: submit (row first, then delivery), list, read, retry.

Every piece of long work (uploads, ``kb ingest``, document deletes, re-ingests, base migrations) is
a row in ``ingestion_jobs`` delivered to a worker through the configured ``JobQueue``; there is one
lifecycle, described in docs/distributed.md.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from core.db import Database, IngestionJob, KnowledgeBase, new_id
from core.errors import ConflictError, NotFoundError
from core.jobqueue import RETRYABLE, JobKind, JobQueue
from ingest.jobs import JobTracker
from ingest.worker import JobWorker


class JobService:
    """Submits jobs to ``queue``; ``worker`` is this process's own runner (tests and the embedded
    CLI run jobs through it directly)."""

    def __init__(self, db: Database, queue: JobQueue, worker: JobWorker) -> None:
        self.db = db
        self.queue = queue
        self.worker = worker
        self.tracker = JobTracker(db, worker.settings.job_lease_seconds)

    def start(self) -> None:
        self.queue.start()

    def stop(self) -> None:
        self.queue.stop()

    def run_next(self) -> bool:
        """Run the oldest claimable job in this process; False when there was none."""
        return self.worker.run_next()

    def submit(
        self,
        kind: JobKind,
        kb_id: int,
        inputs: dict[str, Any],
        created_by: str | None,
        total_files: int = 0,
        job_id: str | None = None,
    ) -> str:
        """Record the job as ``queued``, then hand it to the queue. ``job_id`` lets a caller name
        the job before it exists (uploads store their files under it first)."""
        with self.db.session() as session:
            job = IngestionJob(
                id=job_id or new_id(),
                kb_id=kb_id,
                kind=kind,
                status="queued",
                inputs=inputs,
                created_by=created_by,
                total_files=total_files,
            )
            session.add(job)
            session.flush()
            job_id = job.id
        self.queue.enqueue(job_id, kb_id)
        return job_id

    def list(
        self, kb: str | None = None, limit: int = 50, status: str | None = None
    ) -> list[tuple[IngestionJob, str]]:
        """(job, base name) pairs, newest first."""
        with self.db.session() as session:
            query = (
                select(IngestionJob, KnowledgeBase.name)
                .join(KnowledgeBase, KnowledgeBase.id == IngestionJob.kb_id)
                .order_by(IngestionJob.created_at.desc())
                .limit(limit)
            )
            if kb:
                query = query.where(KnowledgeBase.name == kb)
            if status:
                query = query.where(IngestionJob.status == status)
            return [(job, name) for job, name in session.execute(query).all()]

    def get(self, job_id: str) -> tuple[IngestionJob, str]:
        with self.db.session() as session:
            job = session.get(IngestionJob, job_id)
            kb = session.get(KnowledgeBase, job.kb_id) if job else None
        if job is None or kb is None:
            raise NotFoundError(f"job {job_id} does not exist")
        return job, kb.name

    def retry(self, job_id: str) -> IngestionJob:
        """Queue a dead, failed, partial or cancelled job again with a fresh attempt budget."""
        job, _ = self.get(job_id)
        if job.status not in RETRYABLE:
            raise ConflictError(
                f"job {job_id} is {job.status}; only {', '.join(RETRYABLE)} jobs can be retried"
            )
        with self.db.session() as session:
            moved = session.execute(
                update(IngestionJob)
                .where(IngestionJob.id == job_id, IngestionJob.status == job.status)
                .values(status="queued", attempts=0, error=None, finished_at=None, heartbeat_at=None)
            ).rowcount
        if not moved:
            raise ConflictError(f"job {job_id} changed while it was being retried; look at it again")
        self.queue.enqueue(job_id, job.kb_id)
        return self.get(job_id)[0]
