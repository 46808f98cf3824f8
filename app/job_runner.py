"""Runs ingestion jobs in the background of the API process, and resumes them after a restart.

A job row holds its inputs (paths, groups, tags), so any API process can (re)start it. Ingest is
incremental, so re-running an interrupted job finishes the work without redoing what landed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from app.audit import AuditLog
from core.db import Database, IngestionJob, KnowledgeBase, utcnow
from core.errors import NotFoundError
from core.stores.locks import LockBusy
from core.stores.registry import SearchBackends
from ingest.sources import SourceFile

log = logging.getLogger("kb.jobs")


class JobRunner:
    """One worker thread (ingestion is CPU-bound) that takes queued jobs oldest first."""

    def __init__(
        self, db: Database, backends: SearchBackends, pipeline_factory: Any, max_attempts: int = 3
    ) -> None:
        self.db = db
        self.backends = backends
        self._pipeline_factory = pipeline_factory
        self.max_attempts = max_attempts
        self.audit = AuditLog(db)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="kb-job-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, kb_id: int, inputs: dict[str, Any], created_by: str | None, total_files: int) -> str:
        with self.db.session() as session:
            job = IngestionJob(
                kb_id=kb_id, status="queued", inputs=inputs, created_by=created_by, total_files=total_files
            )
            session.add(job)
            session.flush()
            job_id = job.id
        self._wake.set()
        return job_id

    def recover(self) -> int:
        """Requeue API jobs a dead process left running (or fail them after too many attempts).

        A job is only touched when its knowledge base's writer lock (held by its backend) is free,
        which proves no live process is still working on it.
        """
        count = 0
        with self.db.session() as session:
            stale = session.scalars(select(IngestionJob).where(IngestionJob.status == "running")).all()
            stale = [j for j in stale if j.inputs]
            backend_of = dict(session.execute(select(KnowledgeBase.id, KnowledgeBase.backend)).all())
        for job in stale:
            if job.kb_id not in backend_of:
                continue
            lock = self.backends.get(backend_of[job.kb_id]).lock(job.kb_id, timeout=0)
            try:
                lock.acquire()
            except LockBusy:  # someone is ingesting right now
                continue
            try:
                with self.db.session() as session:
                    row = session.get(IngestionJob, job.id)
                    if row is None or row.status != "running":
                        continue
                    if row.attempts >= self.max_attempts:
                        row.status, row.finished_at = "failed", utcnow()
                        row.error = (
                            f"stopped {row.attempts} times before finishing (crash or restart); "
                            "check the server log, then upload the files again"
                        )
                    else:
                        row.status = "queued"
                        row.error = "the API restarted while this job ran; it was queued again to finish"
                    count += 1
            finally:
                lock.release()
        if count:
            self._wake.set()
        return count

    # ------------------------------------------------------------------ reading
    def list(self, kb: str | None = None, limit: int = 50) -> list[tuple[IngestionJob, str]]:
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
            return [(job, name) for job, name in session.execute(query).all()]

    def get(self, job_id: str) -> tuple[IngestionJob, str]:
        with self.db.session() as session:
            job = session.get(IngestionJob, job_id)
            kb = session.get(KnowledgeBase, job.kb_id) if job else None
        if job is None or kb is None:
            raise NotFoundError(f"job {job_id} does not exist")
        return job, kb.name

    # ------------------------------------------------------------------ work
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_next()
            except Exception:
                log.exception("job runner error")
                ran = False
            if not ran:
                self._wake.wait(timeout=2.0)
                self._wake.clear()

    def _claim(self) -> IngestionJob | None:
        with self.db.session() as session:
            candidates = session.scalars(
                select(IngestionJob)
                .where(IngestionJob.status == "queued")
                .order_by(IngestionJob.created_at)
                .limit(5)
            ).all()
            for job in candidates:
                # Compare-and-set, so two API processes never run the same job.
                claimed = session.execute(
                    update(IngestionJob)
                    .where(IngestionJob.id == job.id, IngestionJob.status == "queued")
                    .values(status="running", attempts=IngestionJob.attempts + 1, started_at=utcnow())
                ).rowcount
                if claimed:
                    session.flush()
                    return job
        return None

    def _base_job(
        self,
        job: IngestionJob,
        kb_name: str,
        event: str,
        work: Callable[[Callable[[int, int], None]], dict[str, Any]],
    ) -> None:
        """A job over a whole base (a re-index into another backend, a re-embedding), with its
        chunks done as the progress; ``work(progress)`` returns the job's result."""

        def progress(done: int, total: int) -> None:
            with self.db.session() as session:
                row = session.get(IngestionJob, job.id)
                if row is not None:
                    row.processed_files, row.total_files, row.chunks = done, total, done

        error: str | None = None
        try:
            results = [work(progress)]
        except Exception as exc:
            log.exception("%s job %s failed", event, job.id)
            status, error, results = "failed", f"{type(exc).__name__}: {exc}", []
        else:
            status = "succeeded"
        with self.db.session() as session:
            row = session.get(IngestionJob, job.id)
            if row is not None:
                row.status, row.error, row.results, row.finished_at = status, error, results, utcnow()
        self.audit.record("job-runner", event, job.id, kb=kb_name, outcome=status, **(results or [{}])[0])

    def _migrate(self, job: IngestionJob, kb_name: str, target: str) -> None:
        """A re-index into another backend (ingest.migrate), with chunks copied as the progress."""
        from ingest.migrate import BaseMigrator

        def work(progress: Callable[[int, int], None]) -> dict[str, Any]:
            report = BaseMigrator(self.db, self.backends).migrate(kb_name, target, progress=progress)
            return {"from": report.source, "to": report.target, "chunks": report.chunks}

        self._base_job(job, kb_name, "kb.migrated", work)

    def _reembed(self, job: IngestionJob, kb_name: str, embedder: str) -> None:
        """A re-embedding with another model (ingest.reembed), chunks embedded then written."""
        from ingest.reembed import BaseReembedder

        def work(progress: Callable[[int, int], None]) -> dict[str, Any]:
            models = self._pipeline_factory().models
            report = BaseReembedder(self.db, self.backends, models).reembed(
                kb_name, embedder, progress=lambda _phase, done, total: progress(done, total)
            )
            return {"from": report.previous, "embedder": report.embedder, "chunks": report.chunks}

        self._base_job(job, kb_name, "kb.reembedded", work)

    def run_next(self) -> bool:
        """Run the oldest queued job; False when there was none."""
        job = self._claim()
        if job is None:
            return False
        with self.db.session() as session:
            kb = session.get(KnowledgeBase, job.kb_id)
        if kb is None:
            return True  # its base was deleted; the job row went with it
        inputs = job.inputs or {}
        if inputs.get("migrate_to"):
            self._migrate(job, kb.name, str(inputs["migrate_to"]))
            return True
        if inputs.get("reembed_to"):
            self._reembed(job, kb.name, str(inputs["reembed_to"]))
            return True
        wanted = [(Path(f["path"]), f["source"]) for f in inputs.get("files", [])]
        files = [SourceFile(p, source, p.stat().st_size) for p, source in wanted if p.is_file()]
        missing = [source for p, source in wanted if not p.is_file()]
        try:
            if not files:
                raise FileNotFoundError("the uploaded files are gone from the data dir; upload them again")
            report = self._pipeline_factory().ingest(
                kb.name, [], groups=inputs.get("groups"), tags=inputs.get("tags"), job_id=job.id, files=files
            )
            self.audit.record(
                "job-runner",
                "job.finished",
                job.id,
                created_by=job.created_by,
                kb=kb.name,
                added=report.added,
                updated=report.updated,
                failed=len(report.failed),
                missing=missing,
            )
        except Exception as exc:
            log.exception("ingestion job %s failed", job.id)
            with self.db.session() as session:
                row = session.get(IngestionJob, job.id)
                if row is not None and row.status in ("running", "queued"):
                    row.status, row.finished_at = "failed", utcnow()
                    row.error = f"{type(exc).__name__}: {exc}"
        return True
