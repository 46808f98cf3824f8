"""The two ``core.jobqueue.JobQueue`` implementations and the ``kb worker`` loop.

- ``InProcessQueue`` (``KB_QUEUE=inprocess``, the embedded default): one runner thread in the API
  process takes claimable rows oldest first; it also finds jobs other processes submitted and jobs
  whose worker died (expired lease), by polling.
- ``ProcrastinateQueue`` (``KB_QUEUE=procrastinate``): deliveries are procrastinate jobs in the same
  PostgreSQL; ``kb worker`` processes run them. A periodic task in every worker (deduplicated by
  procrastinate) closes deliveries of dead workers and re-delivers rows that lost theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from sqlalchemy import create_engine, select, text

from core.db import IngestionJob
from core.errors import ConfigError
from core.settings import Settings
from ingest.worker import JobWorker

log = logging.getLogger("kb.queue")

TASK = "kb.run_job"
RECONCILE = "kb.reconcile"
QUEUE = "ingest"
# Any fixed number of our own: serialises procrastinate's schema creation across processes.
_SCHEMA_LOCK = 0x6B62_7100


class InProcessQueue:
    """A runner thread in this process; ``enqueue`` wakes it, a 2 s poll catches everything else."""

    def __init__(self, worker: JobWorker, poll_seconds: float = 2.0) -> None:
        self.worker = worker
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def enqueue(self, job_id: str, kb_id: int) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="kb-job-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.worker.run_next()
            except Exception:  # the database may be down for a moment: poll again
                log.exception("job runner error")
                ran = False
            if not ran:
                self._wake.wait(timeout=self.poll_seconds)
                self._wake.clear()


def libpq_url(url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` URL as libpq wants it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def procrastinate_app(settings: Settings, worker: JobWorker | None = None) -> Any:
    """The procrastinate app with our two tasks; ``worker`` runs the jobs (None: defer only)."""
    try:
        import procrastinate
        from procrastinate.jobs import Status
    except ImportError:
        raise ConfigError('KB_QUEUE=procrastinate needs the queue extra: pip install -e ".[queue]"') from None
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(settings.database_url or ""), min_size=1, max_size=settings.worker_concurrency + 2
    )
    app = procrastinate.App(connector=connector)
    lease = settings.job_lease_seconds

    @app.task(name=TASK, queue=QUEUE)
    def run_job(job_id: str) -> None:
        if worker is None:
            raise ConfigError("this process only submits jobs; run them with `kb worker`")
        worker.run_job(job_id)

    @app.periodic(cron="* * * * * */5")
    @app.task(name=RECONCILE, queue=QUEUE, queueing_lock=RECONCILE, pass_context=True)
    async def reconcile(context: Any, timestamp: int) -> None:
        """Close deliveries whose worker stopped heartbeating (they hold their base's lock), then
        deliver again every row that is queued or whose lease expired."""
        if worker is None:
            return
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=lease):
            if job.task_name == TASK:
                log.warning("closing delivery %s of a stalled worker", job.id)
                await manager.finish_job(job, Status.FAILED, delete_job=False)
        for job_id, kb_id in await asyncio.to_thread(_stale_rows, worker):
            with contextlib.suppress(procrastinate.exceptions.AlreadyEnqueued):
                await _configure(context.app, job_id, kb_id).defer_async(job_id=job_id)

    return app


def _stale_rows(worker: JobWorker) -> list[tuple[str, int]]:
    ids = worker.jobs.claimable(limit=100)
    if not ids:
        return []
    with worker.db.session() as session:
        rows = session.execute(select(IngestionJob.id, IngestionJob.kb_id).where(IngestionJob.id.in_(ids)))
        return [(job_id, kb_id) for job_id, kb_id in rows.all()]


def _configure(app: Any, job_id: str, kb_id: int) -> Any:
    # lock: jobs of one base run one at a time, in order, on any worker; queueing_lock: a second
    # enqueue of a job that is still waiting is refused, so re-deliveries never pile up.
    return app.configure_task(TASK, lock=f"kb-{kb_id}", queueing_lock=job_id)


def ensure_schema(settings: Settings) -> None:
    """Create procrastinate's tables in our database once (first worker or API start wins)."""
    app = procrastinate_app(settings)
    engine = create_engine(settings.database_url or "")
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
            if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
                # Straight to psycopg: the script is full of '::' casts and '%' that SQLAlchemy's
                # text() and parameter styles would try to interpret.
                driver = conn.connection.driver_connection
                assert driver is not None
                driver.execute(app.schema_manager.get_schema())
    finally:
        engine.dispose()


class ProcrastinateQueue:
    """Deliveries through procrastinate on PostgreSQL; ``kb worker`` processes run them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = procrastinate_app(settings)
        self._opened = False

    def start(self) -> None:
        ensure_schema(self.settings)
        self.app.open()
        self._opened = True

    def stop(self) -> None:
        if self._opened:
            self.app.close()
            self._opened = False

    def enqueue(self, job_id: str, kb_id: int) -> None:
        import procrastinate

        try:
            if not self._opened:
                self.start()
            _configure(self.app, job_id, kb_id).defer(job_id=job_id)
        except procrastinate.exceptions.AlreadyEnqueued:
            pass
        except Exception:
            # The row is the record and stays queued: a worker's reconcile task delivers it within
            # seconds, so a dropped queue connection (a database restart) never fails a request.
            log.warning("job %s: not delivered now; the reconcile task will", job_id, exc_info=True)


async def supervise(settings: Settings, worker: JobWorker, name: str, concurrency: int) -> None:
    """Run a procrastinate worker until SIGTERM/SIGINT, starting it again whenever it stops by itself:
    procrastinate stops a worker whose database connection fails, so after a PostgreSQL restart
    every worker would otherwise exit (measured in benchmarks/queue_trial.py)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    lease = settings.job_lease_seconds
    while not stop.is_set():
        app = procrastinate_app(settings, worker)
        try:
            async with app.open_async():
                task = asyncio.create_task(
                    app.run_worker_async(
                        name=name,
                        queues=[QUEUE],
                        concurrency=concurrency,
                        update_heartbeat_interval=lease / 3,
                        stalled_worker_timeout=lease,
                        install_signal_handlers=False,
                        # Deliveries are not records (the job row is): a finished one is deleted,
                        # so the every-5-s reconcile task does not pile up rows.
                        delete_jobs="successful",
                    )
                )
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    task.cancel()  # procrastinate's graceful stop: running jobs finish first
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    return
                stopping.cancel()
                if exc := task.exception():
                    log.warning("worker %s stopped (%r); starting it again", name, exc)
        except Exception:  # the database is down: opening the pool failed
            log.warning("worker %s cannot reach the database; trying again", name, exc_info=True)
        await asyncio.sleep(1.0)
