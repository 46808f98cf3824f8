"""Job rows: create, claim (lease + fencing token), heartbeat, report progress, finish.

A claim increments ``attempts``; that number is the attempt's fencing token. Every write an attempt
makes (progress, heartbeat, each batch commit, the final status) is conditioned on the token still
being current, so a worker that was presumed dead and replaced can never write after its successor
started (``core.jobqueue.LeaseLost``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError

from core.db import Database, IngestionJob, utcnow
from core.jobqueue import LeaseLost

log = logging.getLogger("kb.jobs")


def worker_name() -> str:
    """``host-pid``: what an admin sees as the job's last worker."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class JobLease:
    """The running attempt of a job: its id and fencing token."""

    job_id: str
    token: int


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
    """Writes a job's status, counters and per-file outcomes to its SQL row, fenced by the lease."""

    def __init__(self, db: Database, lease_seconds: float = 30.0) -> None:
        self.db = db
        self.lease_seconds = lease_seconds

    def create(
        self,
        kb_id: int,
        total_files: int = 0,
        *,
        kind: str = "ingest",
        inputs: dict[str, Any] | None = None,
        created_by: str | None = None,
    ) -> str:
        with self.db.session() as session:
            job = IngestionJob(
                kb_id=kb_id,
                kind=kind,
                status="queued",
                total_files=total_files,
                inputs=inputs or {},
                created_by=created_by,
            )
            session.add(job)
            session.flush()
            return job.id

    def stale_before(self) -> Any:
        return utcnow() - timedelta(seconds=self.lease_seconds)

    def _claimable(self) -> Any:
        """Queued, or running with an expired lease (its worker died)."""
        expired = or_(IngestionJob.heartbeat_at.is_(None), IngestionJob.heartbeat_at < self.stale_before())
        return or_(IngestionJob.status == "queued", (IngestionJob.status == "running") & expired)

    def claim(self, job_id: str) -> JobLease | None:
        """Take the job if it is claimable: one compare-and-set statement, so of two workers at
        most one wins. None when someone alive holds it or it is finished."""
        now = utcnow()
        with self.db.session() as session:
            claimed = session.execute(
                update(IngestionJob)
                .where(IngestionJob.id == job_id, self._claimable())
                .values(
                    status="running",
                    attempts=IngestionJob.attempts + 1,
                    lease_owner=worker_name(),
                    pid=os.getpid(),
                    heartbeat_at=now,
                    started_at=now,
                    current=None,
                )
            ).rowcount
            if not claimed:
                return None
            token = session.scalar(select(IngestionJob.attempts).where(IngestionJob.id == job_id))
        return JobLease(job_id, int(token or 0))

    def claimable(self, kb_id: int | None = None, limit: int = 20) -> list[str]:
        """Ids of jobs a worker could claim now, oldest first."""
        query = (
            select(IngestionJob.id).where(self._claimable()).order_by(IngestionJob.created_at).limit(limit)
        )
        if kb_id is not None:
            query = query.where(IngestionJob.kb_id == kb_id)
        with self.db.session() as session:
            return list(session.scalars(query.limit(limit)).all())

    def _fenced(self, session: Any, lease: JobLease) -> IngestionJob:
        """The job row, locked, if ``lease`` is still the current attempt; else LeaseLost."""
        job = session.scalar(
            select(IngestionJob)
            .where(IngestionJob.id == lease.job_id, IngestionJob.attempts == lease.token)
            .with_for_update()
        )
        if job is None or job.status != "running":
            raise LeaseLost(f"job {lease.job_id}: attempt {lease.token} was taken over by another worker")
        return job

    def fence(self, session: Any, lease: JobLease) -> None:
        """Inside a commit's transaction: refuse it unless this attempt still holds the job."""
        self._fenced(session, lease).heartbeat_at = utcnow()

    def heartbeat(self, lease: JobLease) -> None:
        with self.db.session() as session:
            self._fenced(session, lease).heartbeat_at = utcnow()

    def set_total(self, lease: JobLease, total_files: int) -> None:
        with self.db.session() as session:
            self._fenced(session, lease).total_files = total_files

    def update(self, lease: JobLease, report: IngestReport, processed: int) -> None:
        with self.db.session() as session:
            job = self._fenced(session, lease)
            job.heartbeat_at = utcnow()
            job.processed_files = processed
            _copy_counters(job, report)

    def progress(self, lease: JobLease, done: int, total: int) -> None:
        """Counters of a job that is not a file ingest (a migration's chunks copied)."""
        with self.db.session() as session:
            job = self._fenced(session, lease)
            job.heartbeat_at = utcnow()
            job.processed_files, job.total_files, job.chunks = done, total, done

    def working_on(self, lease: JobLease, current: dict[str, Any] | None) -> None:
        """Record what the job is doing inside the current file (e.g. OCR page 3 of 40)."""
        with self.db.session() as session:
            job = self._fenced(session, lease)
            job.current, job.heartbeat_at = current, utcnow()

    def file_steps(
        self, lease: JobLease, source: str, echo: Callable[[str], None] | None = None
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
            self.working_on(lease, {"source": source, "step": step, "done": done, "total": total})
            if echo is not None:
                echo(f"{source} · {step} {done}/{total}")

        return report

    def finish(self, lease: JobLease, report: IngestReport, error: str | None = None) -> str:
        """Final status: succeeded, partial (some files failed), or failed (nothing landed)."""
        landed = report.added + report.updated + report.unchanged + report.deleted
        if error is not None:
            status = "failed"
        elif report.failed:
            status = "partial" if landed else "failed"
        else:
            status = "succeeded"
        with self.db.session() as session:
            job = self._fenced(session, lease)
            job.status, job.error, job.finished_at, job.current = status, error, utcnow(), None
            job.processed_files = len(report.files)
            _copy_counters(job, report)
        return status

    def end(self, lease: JobLease, status: str, error: str | None, results: list[Any] | None = None) -> None:
        """Final status of a job that is not a file ingest (or that stopped before its first file)."""
        with self.db.session() as session:
            job = self._fenced(session, lease)
            job.status, job.error, job.finished_at, job.current = status, error, utcnow(), None
            if results is not None:
                job.results = results

    def fail(self, lease: JobLease, exc: BaseException) -> None:
        """Record why an attempt ended early, unless it lost its lease or SQL is unreachable: then
        the row stays ``running`` and the lease expiry re-delivers the job."""
        if isinstance(exc, LeaseLost | OperationalError):
            return
        try:
            self.end(lease, "failed", f"{type(exc).__name__}: {exc}")
        except (LeaseLost, OperationalError):
            log.warning("job %s: could not record its failure", lease.job_id)

    def get(self, job_id: str) -> IngestionJob | None:
        with self.db.session() as session:
            return session.get(IngestionJob, job_id)


def _copy_counters(job: IngestionJob, report: IngestReport) -> None:
    job.added, job.updated, job.unchanged = report.added, report.updated, report.unchanged
    job.deleted, job.failed, job.chunks = report.deleted, len(report.failed), report.chunks
    job.results = [asdict(f) for f in report.files]


class Heartbeat:
    """Keeps an attempt's lease alive from a thread while it works (a single huge file makes no
    progress updates for minutes). ``lost`` is set when another worker took the job over."""

    def __init__(self, jobs: JobTracker, lease: JobLease) -> None:
        self.jobs, self.lease = jobs, lease
        self.lost = threading.Event()
        self._stop = threading.Event()
        name = f"kb-heartbeat-{lease.job_id[:8]}"
        self._thread = threading.Thread(target=self._beat, name=name, daemon=True)

    def _beat(self) -> None:
        interval = max(self.jobs.lease_seconds / 3, 0.2)
        while not self._stop.wait(interval):
            try:
                self.jobs.heartbeat(self.lease)
            except LeaseLost:
                log.warning("job %s: lease lost; this attempt will not commit", self.lease.job_id)
                self.lost.set()
                return
            except Exception:  # database briefly unreachable: the next beat tries again
                log.warning("job %s: heartbeat failed", self.lease.job_id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
