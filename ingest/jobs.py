"""Ingestion job rows: create, report progress, finish, and recover jobs a dead process left running."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from core.db import Database, IngestionJob, utcnow

INTERRUPTED = "the ingesting process stopped mid-way (crash or kill); re-run the same ingest to finish"


@dataclass
class FileOutcome:
    """What happened to one file of a job."""

    path: str
    outcome: str  # added | updated | unchanged | deleted | failed
    error: str | None = None
    documents: int = 0
    chunks: int = 0


@dataclass
class IngestReport:
    """Summary of one ingest run, as ``kb ingest --json`` prints it."""

    job_id: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0
    files: list[FileOutcome] = field(default_factory=list)

    def record(self, outcome: FileOutcome) -> None:
        self.files.append(outcome)
        if outcome.outcome == "failed":
            self.failed.append({"path": outcome.path, "error": outcome.error or "unknown error"})
        elif outcome.outcome in ("added", "updated", "unchanged", "deleted"):
            setattr(self, outcome.outcome, getattr(self, outcome.outcome) + 1)
        self.chunks += outcome.chunks

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.failed,
            "chunks": self.chunks,
        }


class JobTracker:
    """Writes a job's status, counters and per-file outcomes to its SQL row."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, kb_id: int, total_files: int = 0) -> str:
        with self.db.session() as session:
            job = IngestionJob(kb_id=kb_id, status="queued", total_files=total_files)
            session.add(job)
            session.flush()
            return job.id

    def start(self, job_id: str, total_files: int) -> None:
        with self.db.session() as session:
            job = session.get(IngestionJob, job_id)
            if job is not None:
                job.status, job.total_files, job.pid = "running", total_files, os.getpid()
                job.started_at = utcnow()

    def update(self, job_id: str, report: IngestReport, processed: int) -> None:
        with self.db.session() as session:
            job = session.get(IngestionJob, job_id)
            if job is None:
                return
            job.processed_files = processed
            job.added, job.updated, job.unchanged = report.added, report.updated, report.unchanged
            job.deleted, job.failed, job.chunks = report.deleted, len(report.failed), report.chunks
            job.results = [asdict(f) for f in report.files]

    def working_on(self, job_id: str, current: dict[str, Any] | None) -> None:
        """Record what the job is doing inside the current file (e.g. OCR page 3 of 40)."""
        with self.db.session() as session:
            job = session.get(IngestionJob, job_id)
            if job is not None:
                job.current = current

    def file_steps(
        self, job_id: str, source: str, echo: Callable[[str], None] | None = None
    ) -> Callable[[str, int, int], None]:
        """A ``progress(step, done, total)`` callback for one file's slow steps: it records them on
        the job (at most once a second, and at the end of each step) and echoes a short line."""
        last = 0.0

        def report(step: str, done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if done < total and now - last < 1.0:
                return
            last = now
            self.working_on(job_id, {"source": source, "step": step, "done": done, "total": total})
            if echo is not None:
                echo(f"{source} · {step} {done}/{total}")

        return report

    def finish(self, job_id: str, report: IngestReport, error: str | None = None) -> str:
        """Final status: succeeded, partial (some files failed), or failed (nothing landed)."""
        landed = report.added + report.updated + report.unchanged + report.deleted
        if error is not None:
            status = "failed"
        elif report.failed:
            status = "partial" if landed else "failed"
        else:
            status = "succeeded"
        with self.db.session() as session:
            job = session.get(IngestionJob, job_id)
            if job is not None:
                job.status, job.error, job.finished_at, job.current = status, error, utcnow(), None
                job.processed_files = len(report.files)
                job.added, job.updated, job.unchanged = report.added, report.updated, report.unchanged
                job.deleted, job.failed, job.chunks = report.deleted, len(report.failed), report.chunks
                job.results = [asdict(f) for f in report.files]
        return status

    def recover(self, kb_id: int, keep: str | None = None) -> int:
        """Mark running jobs of ``kb_id`` as interrupted; call it holding the base's writer lock,
        which proves no other process is still working on them. Returns how many."""
        count = 0
        with self.db.session() as session:
            query = select(IngestionJob).where(IngestionJob.kb_id == kb_id, IngestionJob.status == "running")
            for job in session.scalars(query).all():
                if job.id == keep:
                    continue
                job.status, job.error, job.finished_at = "interrupted", INTERRUPTED, utcnow()
                count += 1
        return count

    def get(self, job_id: str) -> IngestionJob | None:
        with self.db.session() as session:
            return session.get(IngestionJob, job_id)
