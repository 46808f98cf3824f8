"""Worker side of the queue trial: one task body, run by a procrastinate or a Celery worker process.

Usage (started by benchmarks/queue_trial.py, one process per worker):
    python -m benchmarks.queue_trial_workers procrastinate --pg URL --lease S --name w1
    python -m benchmarks.queue_trial_workers celery --pg URL --redis URL --lease S --name w1

Every execution of a job appends a row to ``trial_exec`` (which process ran it, when it started and
finished), so the driver can see re-deliveries and duplicates; the job's effect is an idempotent
insert into ``trial_result`` keyed by the job's key, as ingestion is idempotent by chunk id.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import signal
import sys
import time
from typing import Any

import psycopg

TASK = "trial.work"
REAPER = "trial.retry_stalled"
MAX_ATTEMPTS = 3  # first run + 2 retries, for both engines

SCHEMA = """
CREATE TABLE IF NOT EXISTS trial_exec (
    id bigserial PRIMARY KEY, run text NOT NULL, key text NOT NULL, pid int NOT NULL,
    worker text NOT NULL, enqueued double precision NOT NULL, started double precision NOT NULL,
    finished double precision, failed boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS trial_exec_run ON trial_exec (run, key);
CREATE TABLE IF NOT EXISTS trial_result (run text NOT NULL, key text NOT NULL, PRIMARY KEY (run, key));
"""

_state: dict[str, Any] = {}


class TrialFailure(RuntimeError):
    """Raised by a job asked to fail, to exercise the engines' retry limits."""


def _db() -> psycopg.Connection[Any]:
    # One connection per process, opened lazily so Celery's forked children never share a socket.
    conn = _state.get("conn")
    if conn is None or conn.closed:
        conn = psycopg.connect(_state["pg"], autocommit=True)
        _state["conn"] = conn
    return conn


def run_job(run: str, key: str, work_s: float, fail: bool, enqueued: float) -> None:
    """The trial job: record the execution, 'work' for ``work_s`` seconds, write an idempotent result."""
    db = _db()
    row = db.execute(
        "INSERT INTO trial_exec (run, key, pid, worker, enqueued, started) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (run, key, os.getpid(), _state["name"], enqueued, time.time()),
    ).fetchone()
    assert row is not None
    if fail:
        db.execute("UPDATE trial_exec SET failed = true, finished = %s WHERE id = %s", (time.time(), row[0]))
        raise TrialFailure(f"{key}: asked to fail")
    # Sleep in small steps: the job stands for I/O-bound work and is killable at any point.
    deadline = time.monotonic() + work_s
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))
    db.execute("UPDATE trial_exec SET finished = %s WHERE id = %s", (time.time(), row[0]))
    db.execute("INSERT INTO trial_result (run, key) VALUES (%s, %s) ON CONFLICT DO NOTHING", (run, key))


def libpq_url(url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` URL as libpq wants it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


# ---------------------------------------------------------------------------------- procrastinate
def procrastinate_app(pg_url: str, lease: float) -> Any:
    """The procrastinate app: the trial task plus the stalled-job reaper our code would run."""
    import procrastinate
    from procrastinate.jobs import Status

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=libpq_url(pg_url)))

    @app.task(name=TASK, retry=procrastinate.RetryStrategy(max_attempts=MAX_ATTEMPTS - 1))
    def work(run: str, key: str, work_s: float, fail: bool, enqueued: float) -> None:
        run_job(run, key, work_s, fail, enqueued)

    # procrastinate notices dead workers by their heartbeat but does not re-deliver their jobs by
    # itself: its documented recipe is a periodic task that retries stalled jobs. Every 2 s here.
    @app.periodic(cron="* * * * * */2")
    @app.task(name=REAPER, queueing_lock=REAPER, pass_context=True)
    async def retry_stalled(context: Any, timestamp: int) -> None:
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=lease):
            if job.task_name == REAPER:
                continue
            if job.attempts + 1 >= MAX_ATTEMPTS:
                await manager.finish_job(job, Status.FAILED, delete_job=False)
            else:
                await manager.retry_job(job, retry_at=datetime.datetime.now(datetime.UTC))

    return app


def run_procrastinate_worker(pg_url: str, lease: float, name: str) -> None:
    asyncio.run(supervise_procrastinate(procrastinate_app(pg_url, lease), lease, name))


async def supervise_procrastinate(app: Any, lease: float, name: str) -> None:
    """Run a procrastinate worker until SIGTERM/SIGINT, starting it again whenever it stops by itself.

    procrastinate stops a worker whose database connection fails (its listener or heartbeat task
    dies), so a PostgreSQL restart would otherwise end every worker; `kb worker` would do the same.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with app.open_async():
        while not stop.is_set():
            worker = asyncio.create_task(
                app.run_worker_async(
                    name=name,
                    concurrency=1,
                    update_heartbeat_interval=lease / 3,
                    stalled_worker_timeout=lease,
                    install_signal_handlers=False,
                )
            )
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                worker.cancel()  # procrastinate's graceful stop: running jobs finish first
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
                return
            stopping.cancel()
            if exc := worker.exception():
                print(f"{name}: worker stopped ({exc!r}); starting it again in 1 s", file=sys.stderr)
            await asyncio.sleep(1.0)


# ----------------------------------------------------------------------------------------- celery
def celery_app(redis_url: str, lease: float) -> Any:
    """A Celery app configured for at-least-once delivery on Redis (acks_late, visibility timeout)."""
    from celery import Celery

    app = Celery("trial", broker=redis_url)
    app.conf.update(
        task_acks_late=True,  # ack after the task ran, so a killed worker's job is not lost
        task_reject_on_worker_lost=True,  # a killed pool child requeues its job at once
        worker_prefetch_multiplier=1,  # a worker holds one unacked job, not four
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # Redis has no per-consumer ack: an unacked job comes back after the visibility timeout
        # (default 3600 s), found by a sweep (default every 10 s x throttle 10). Made the lease here.
        broker_transport_options={
            "visibility_timeout": lease,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        },
    )

    @app.task(
        name=TASK,
        autoretry_for=(TrialFailure,),
        max_retries=MAX_ATTEMPTS - 1,
        default_retry_delay=0,
    )
    def work(run: str, key: str, work_s: float, fail: bool, enqueued: float) -> None:
        run_job(run, key, work_s, fail, enqueued)

    return app


def run_celery_worker(redis_url: str, lease: float, name: str) -> None:
    app = celery_app(redis_url, lease)
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            f"--hostname={name}@trial",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", choices=["procrastinate", "celery"])
    parser.add_argument("--pg", required=True)
    parser.add_argument("--redis")
    parser.add_argument("--lease", type=float, required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    _state.update(pg=libpq_url(args.pg), name=args.name)
    if args.engine == "procrastinate":
        run_procrastinate_worker(args.pg, args.lease, args.name)
    else:
        run_celery_worker(args.redis, args.lease, args.name)


if __name__ == "__main__":
    main()
