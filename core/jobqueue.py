"""How jobs reach workers: the ``JobQueue`` protocol, job kinds and statuses, the lease errors.

The SQL row (``core.db.IngestionJob``) is the record of a job; a queue only delivers "run job <id>
now" to some worker. Implementations: ``ingest.queue.InProcessQueue`` (a thread in the API process,
the embedded default) and ``ingest.queue.ProcrastinateQueue`` (``kb worker`` processes on
PostgreSQL). See docs/distributed.md.
"""

from __future__ import annotations

from typing import Literal, Protocol

from core.errors import KBError

JobKind = Literal["ingest", "delete_document", "migrate_base", "reembed_base"]
ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "partial", "failed", "dead", "cancelled")
RETRYABLE = ("failed", "partial", "dead", "cancelled")


class LeaseLost(KBError):
    """This attempt's lease was taken over (its worker was presumed dead); it must not write."""


class JobQueue(Protocol):
    """Delivers job ids to workers; a job delivered twice is run once (the claim decides)."""

    def enqueue(self, job_id: str, kb_id: int) -> None: ...

    def start(self) -> None:
        """Begin delivering (a no-op where separate workers do the work)."""

    def stop(self) -> None: ...
