"""Runs one job by id, whichever queue delivered it: claim, heartbeat, fence, finish.

A delivery is only a hint: ``run_job`` claims the row with a compare-and-set (queued, or running
with an expired lease), so a duplicate delivery costs one query and a dead worker's job is finished
by the next one. Re-running is safe because ingestion is idempotent (chunk ids derive from base,
source and content; unchanged files are skipped) and every commit is fenced by the attempt number.
See docs/distributed.md §3.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from core.db import Database, DocumentRow, IngestionJob, KnowledgeBase
from core.errors import KBError, NotFoundError
from core.jobqueue import LeaseLost
from core.settings import Settings
from core.stores.base import BlobStore
from core.stores.registry import SearchBackends
from ingest.jobs import Heartbeat, JobLease, JobTracker
from ingest.sources import SourceFile

log = logging.getLogger("kb.worker")

DEAD = (
    "stopped {n} times before finishing (worker killed, out of memory, or database or storage lost); "
    "see the worker log, then retry it from Admin → Jobs or `kb jobs retry {id}`"
)


class JobWorker:
    """Runs jobs in this process. ``pipeline`` builds the ingestion pipeline on first use (it loads
    the embedder), so a process that only deletes documents never loads a model."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        backends: SearchBackends,
        blobs: BlobStore,
        pipeline: Callable[[], Any],
    ) -> None:
        self.settings = settings
        self.db = db
        self.backends = backends
        self.blobs = blobs
        self._pipeline = pipeline
        self.jobs = JobTracker(db, settings.job_lease_seconds)

    def run_next(self, kb_id: int | None = None) -> bool:
        """Run the oldest claimable job (of ``kb_id``); False when there was none."""
        return any(self.run_job(job_id) is not None for job_id in self.jobs.claimable(kb_id))

    def drain(self, kb_id: int | None = None) -> None:
        """Run claimable jobs until none is left."""
        while self.run_next(kb_id):
            pass

    def run_job(self, job_id: str) -> str | None:
        """Claim and run the job; its final status, or None when it was not ours to run (someone
        alive holds it, it is finished, or this attempt lost its lease or its database)."""
        lease = self.jobs.claim(job_id)
        if lease is None:
            return None
        job = self.jobs.get(job_id)
        assert job is not None
        if lease.token > self.settings.job_max_attempts:
            self.jobs.end(lease, "dead", DEAD.format(n=lease.token - 1, id=job_id))
            log.error("job %s is dead after %d attempts", job_id, lease.token - 1)
            return "dead"
        log.info("job %s (%s) attempt %d", job_id, job.kind, lease.token)
        try:
            with Heartbeat(self.jobs, lease):
                return self._dispatch(job, lease)
        except LeaseLost as exc:
            log.warning("%s", exc)
        except OperationalError:
            # The database went away: nothing can be recorded now. The row stays `running`; once its
            # lease expires the job is delivered again and this attempt counts toward the limit.
            log.warning("job %s: database unreachable; left to re-delivery", job_id, exc_info=True)
        except KBError as exc:  # bad input or configuration: running it again would not help
            self.jobs.fail(lease, exc)
            return "failed"
        except Exception as exc:  # a bug: recorded on the row, logged with its traceback, not retried
            log.exception("job %s failed", job_id)
            self.jobs.fail(lease, exc)
            return "failed"
        return None

    # ------------------------------------------------------------------------------ kinds
    def _dispatch(self, job: IngestionJob, lease: JobLease) -> str:
        if job.kind == "delete_document":
            return self._delete_document(job, lease)
        if job.kind == "migrate_base":
            return self._migrate(job, lease)
        if job.kind == "reembed_base":
            return self._reembed(job, lease)
        return self._ingest(job, lease)

    def _kb_name(self, kb_id: int) -> str:
        with self.db.session() as session:
            kb = session.get(KnowledgeBase, kb_id)
        if kb is None:
            raise NotFoundError(f"knowledge base {kb_id} no longer exists")
        return kb.name

    def _ingest(self, job: IngestionJob, lease: JobLease) -> str:
        inputs = job.inputs or {}
        kb_name = self._kb_name(job.kb_id)
        wanted = list(inputs.get("files", []))
        sources = [f["source"] for f in wanted]
        before = self._file_keys(job.kb_id, sources)
        with ExitStack() as stack:
            files, missing = [], []
            for item in wanted:
                try:
                    files.append(self._local(stack, item))
                except NotFoundError:
                    missing.append(item["source"])
            if not files:
                raise NotFoundError(
                    f"the files of this job are gone from storage ({', '.join(missing)}); upload them again"
                )
            report = self._pipeline().ingest(
                kb_name,
                [],
                groups=inputs.get("groups"),
                tags=inputs.get("tags"),
                sync=bool(inputs.get("sync")),
                lease=lease,
                files=files,
            )
        if missing:
            log.warning("job %s: files missing from storage: %s", job.id, missing)
        uploaded = {f["key"] for f in wanted if f.get("key")}
        self._drop_unreferenced((before | uploaded) - self._file_keys(job.kb_id, sources))
        landed = report.added + report.updated + report.unchanged + report.deleted
        return "succeeded" if not report.failed else ("partial" if landed else "failed")

    def _local(self, stack: ExitStack, item: dict[str, Any]) -> SourceFile:
        """The job's file as a local path: a blob copied out of the store, or the CLI's own file."""
        if item.get("key"):
            path = stack.enter_context(self.blobs.local_path(item["key"]))
            return SourceFile(path, item["source"], path.stat().st_size, key=item["key"])
        path = Path(item["path"])
        if not path.is_file():
            raise NotFoundError(f"{path} is missing")
        return SourceFile(path, item["source"], path.stat().st_size)

    def _file_keys(self, kb_id: int, sources: list[str]) -> set[str]:
        if not sources:
            return set()
        with self.db.session() as session:
            metas = session.scalars(
                select(DocumentRow.meta).where(DocumentRow.kb_id == kb_id, DocumentRow.path.in_(sources))
            ).all()
        return {m["file_key"] for m in metas if m and m.get("file_key")}

    def _drop_unreferenced(self, keys: set[str]) -> None:
        """Delete uploads no document points at any more (superseded versions, unchanged re-uploads)."""
        for key in keys:
            try:
                self.blobs.delete(key)
            except KBError:
                log.warning("could not delete superseded upload %s", key, exc_info=True)

    def _delete_document(self, job: IngestionJob, lease: JobLease) -> str:
        doc_id = str((job.inputs or {}).get("document_id"))
        try:
            row = self._pipeline().delete_document(doc_id, lease)
        except NotFoundError:  # an earlier attempt deleted it already
            self.jobs.end(lease, "succeeded", None, [{"document": doc_id, "outcome": "already deleted"}])
            return "succeeded"
        key = (row.meta or {}).get("file_key")
        if key:
            self._drop_unreferenced({key} - self._file_keys(job.kb_id, [row.path]))
        done = {"document": doc_id, "source": row.source, "outcome": "deleted"}
        self.jobs.end(lease, "succeeded", None, [done])
        return "succeeded"

    def _migrate(self, job: IngestionJob, lease: JobLease) -> str:
        from ingest.migrate import BaseMigrator

        target = str((job.inputs or {}).get("migrate_to"))
        kb_name = self._kb_name(job.kb_id)
        with self.db.session() as session:
            kb = session.get(KnowledgeBase, job.kb_id)
            source = kb.backend if kb else ""
        if source == target:  # an earlier attempt switched the base before it could finish the row
            self.jobs.end(lease, "succeeded", None, [{"to": target, "outcome": "already moved"}])
            return "succeeded"
        report = BaseMigrator(self.db, self.backends).migrate(
            kb_name, target, progress=lambda done, total: self.jobs.progress(lease, done, total)
        )
        results = [{"from": report.source, "to": report.target, "chunks": report.chunks}]
        self.jobs.end(lease, "succeeded", None, results)
        return "succeeded"

    def _reembed(self, job: IngestionJob, lease: JobLease) -> str:
        """Re-embed a base with another model (ingest.reembed); a re-run after a dead worker starts
        over, and the base keeps searching its old vectors until the new ones are complete."""
        from ingest.reembed import BaseReembedder

        embedder = str((job.inputs or {}).get("reembed_to"))
        report = BaseReembedder(self.db, self.backends, self._pipeline().models).reembed(
            self._kb_name(job.kb_id),
            embedder,
            progress=lambda _phase, done, total: self.jobs.progress(lease, done, total),
        )
        results = [{"from": report.previous, "embedder": report.embedder, "chunks": report.chunks}]
        self.jobs.end(lease, "succeeded", None, results)
        return "succeeded"
