"""``kb worker`` and ``kb jobs``, and how every CLI command that does long work waits for its job.

A CLI command submits a job row like the API does. Without a task queue (``KB_QUEUE=inprocess``)
the CLI process is the worker: it runs the base's claimable jobs in a thread. With one, a ``kb
worker`` anywhere runs it. Either way the CLI draws progress from the row every half second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli.common import err, open_context
from app.context import AppContext
from app.services.jobs import JobService
from core.db import IngestionJob
from core.errors import KBError
from core.jobqueue import FINISHED
from core.settings import load_settings
from ingest.jobs import worker_name

jobs_app = typer.Typer(no_args_is_help=True, help="List jobs and retry the ones that gave up.")

NO_QUEUE = (
    "no task queue is configured: the API process runs jobs itself (KB_QUEUE=inprocess). For separate "
    "workers set KB_DATABASE_URL to PostgreSQL and KB_QUEUE=procrastinate, and install the queue extra."
)


def job_service(ctx: AppContext) -> JobService:
    return JobService(ctx.db, ctx.job_queue, ctx.worker)


def _current(job: IngestionJob) -> str:
    now = job.current or {}
    if now:
        return f"{now.get('source', '')} · {now.get('step', '')} {now.get('done', '')}/{now.get('total', '')}"
    results = job.results or []
    return str(results[-1].get("path", "")) if results else ""


def wait_for_job(ctx: AppContext, job_id: str, kb_id: int, label: str, quiet: bool = False) -> IngestionJob:
    """Run (embedded) or await (queue) the job, with a progress bar on stderr; its final row.
    Ctrl-C leaves a queued job to the workers, and says so."""
    embedded = ctx.settings.queue == "inprocess"
    runner: threading.Thread | None = None
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[current]}"),
            console=err,
            disable=quiet or not err.is_terminal,
        ) as bar:
            task = bar.add_task(label, total=None, current="")
            hint_at = time.monotonic() + 10
            while True:
                job = ctx.worker.jobs.get(job_id)
                if job is None:
                    raise KBError(f"job {job_id} is gone (its knowledge base was deleted)")
                total = job.total_files or None
                bar.update(task, completed=job.processed_files, total=total, current=_current(job)[-60:])
                if job.status in FINISHED:
                    return job
                if not embedded and job.status == "queued" and time.monotonic() > hint_at:
                    err.print(f"job {job_id} is waiting for a worker; is a `kb worker` running?")
                    hint_at = float("inf")
                if embedded and (runner is None or not runner.is_alive()):
                    # This process is a worker for the base: it runs whatever is claimable (our job,
                    # or one whose process died); a job another live process holds is waited for.
                    runner = threading.Thread(target=ctx.worker.drain, args=(kb_id,), daemon=True)
                    runner.start()
                time.sleep(0.5)
    except KeyboardInterrupt:
        where = "a worker" if not embedded else "the API process or the next `kb ingest` on this base"
        err.print(f"stopped waiting; job {job_id} stays in the queue and {where} finishes it")
        raise typer.Exit(130) from None
    finally:
        ctx.job_queue.stop()


def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs run at once by this process (default KB_WORKER_CONCURRENCY).")
    ] = None,
) -> None:
    """Run jobs from the task queue until stopped (SIGTERM/Ctrl-C finishes the running jobs first)."""
    from ingest.queue import ensure_schema, supervise

    settings = load_settings()
    if settings.queue != "procrastinate":
        err.print(f"[red]error:[/red] {NO_QUEUE}")
        raise typer.Exit(2)
    logging.getLogger("kb").setLevel(logging.INFO)
    ctx = AppContext(settings)
    ctx.check_backends()
    ensure_schema(settings)
    ctx.pipeline.embedder.embed(["warm-up"])  # load the embedder once, before the first job
    name = worker_name()
    n = concurrency or settings.worker_concurrency
    where = (settings.database_url or "").split("@")[-1]  # never print the password
    err.print(f"worker {name}: running jobs from {where} ({n} at a time)")
    asyncio.run(supervise(settings, ctx.worker, name, n))


def _job_json(job: IngestionJob, kb: str) -> dict[str, Any]:
    return {
        "id": job.id,
        "kb": kb,
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "worker": job.lease_owner,
        "processed_files": job.processed_files,
        "total_files": job.total_files,
        "error": job.error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


@jobs_app.command("list")
def jobs_list(
    kb: Annotated[str | None, typer.Option("--kb")] = None,
    status: Annotated[str | None, typer.Option(help="e.g. dead, failed, running")] = None,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List jobs, newest first."""
    ctx = open_context()
    rows = [_job_json(job, name) for job, name in job_service(ctx).list(kb, limit, status)]
    if as_json:
        sys.stdout.write(json.dumps(rows, default=str) + "\n")
        return
    table = Table("id", "kb", "kind", "status", "attempts", "worker", "error")
    for row in rows:
        table.add_row(
            *(str(row[c] or "") for c in ("id", "kb", "kind", "status", "attempts", "worker", "error"))
        )
    Console().print(table)


@jobs_app.command("retry")
def jobs_retry(job_id: str) -> None:
    """Queue a dead, failed or partial job again (with a fresh attempt budget)."""
    ctx = open_context()
    try:
        job = job_service(ctx).retry(job_id)
    except KBError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        ctx.job_queue.stop()
    err.print(f"job {job.id} is queued again")


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.add_typer(jobs_app, name="jobs")
