"""``kb ingest``, ``kb rerank-index`` and ``kb docs``: put files into a base and manage its documents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from app.cli.common import JsonFlag, emit, err, fail, open_context, progress_bar
from app.cli.jobs import job_service, wait_for_job
from app.context import AppContext
from core.db import DocumentRow, IngestionJob, new_id
from core.errors import KBError
from ingest.sources import SourceFile

docs_app = typer.Typer(no_args_is_help=True, help="List and delete documents.")


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to ingest.")],
    kb: Annotated[str, typer.Option("--kb", help="Target knowledge base.")],
    group: Annotated[list[str] | None, typer.Option("--group", help="Access group (repeatable).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Scenario tag (repeatable).")] = None,
    sync: Annotated[bool, typer.Option("--sync", help="Remove documents whose files are gone.")] = False,
    rerank_index: Annotated[
        bool, typer.Option(help="Also embed new chunks for the reranker (faster first searches).")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Ingest files and folders as a job; unchanged files are skipped, changed ones replaced.

    Without a task queue this process runs the job; with KB_QUEUE=procrastinate the files go to the
    blob store and a `kb worker` runs it, while this command shows its progress."""
    from ingest.sources import expand_paths

    ctx = open_context()
    try:
        kb_row = ctx.catalog.get(kb)
        for path in paths:
            if not path.exists():
                fail(f"{path}: no such file or folder", 2)
        files = expand_paths(paths)
        job_id = new_id()
        if ctx.settings.queue == "inprocess":  # this process is the worker: it reads the files in place
            entries = [{"path": str(f.path), "source": f.source} for f in files]
        else:  # a worker on another machine reads them from the blob store
            entries = [{"key": _put(ctx, kb_row.id, job_id, f), "source": f.source} for f in files]
        inputs = {"files": entries, "groups": group or [], "tags": tag or [], "sync": sync}
        job_service(ctx).submit("ingest", kb_row.id, inputs, None, len(files), job_id=job_id)
        job = wait_for_job(ctx, job_id, kb_row.id, "ingesting", quiet=as_json)
        report = job_report(job)
        if rerank_index and report["chunks"]:
            _fill_rerank_vectors(ctx, kb)
    except KBError as exc:
        fail(str(exc), 2)
    if as_json:
        emit(report)
    else:
        err.print(
            f"job {job_id}: {report['added']} added, {report['updated']} updated, "
            f"{report['unchanged']} unchanged, {report['deleted']} deleted, {len(report['failed'])} failed, "
            f"{report['chunks']} new chunks"
        )
        for failure in report["failed"]:
            err.print(f"[yellow]failed[/yellow] {failure['path']}: {failure['error']}")
    if job.error:
        err.print(f"[red]job {job.status}:[/red] {job.error}")
    landed = report["added"] + report["updated"] + report["unchanged"] + report["deleted"]
    if not landed:
        raise typer.Exit(1)


def _put(ctx: AppContext, kb_id: int, job_id: str, file: SourceFile) -> str:
    key = f"{kb_id}/{job_id}/{file.source}"
    with open(file.path, "rb") as stream:
        ctx.blobs.put(key, stream)
    return key


def job_report(job: IngestionJob) -> dict[str, Any]:
    """What ``kb ingest --json`` prints: the job's counters and its failed files."""
    results = job.results or []
    return {
        "job_id": job.id,
        "status": job.status,
        "added": job.added,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "deleted": job.deleted,
        "failed": [
            {"path": r["path"], "error": r.get("error") or "unknown error"}
            for r in results
            if r.get("outcome") == "failed"
        ],
        "chunks": job.chunks,
    }


def _fill_rerank_vectors(ctx: AppContext, kb: str) -> int:
    """Embed chunks for the reranker, if the configured one stores vectors."""
    from retrieval.rerank import BiEncoderRescorer

    reranker = ctx.reranker
    if not isinstance(reranker, BiEncoderRescorer):
        return 0
    with progress_bar(quiet=not err.is_terminal) as bar:
        task = bar.add_task("reranker vectors", total=None)
        return reranker.index_kb(
            ctx.catalog.get(kb).id, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )


def rerank_index_cmd(kb: Annotated[str, typer.Option("--kb")]) -> None:
    """Embed every chunk that still lacks a reranker vector (e.g. after `kb ingest --no-rerank-index`)."""
    ctx = open_context()
    try:
        ctx.catalog.get(kb)
    except KBError as exc:
        fail(str(exc), 2)
    added = _fill_rerank_vectors(ctx, kb)
    err.print(f"{added} chunks embedded for the reranker")


@docs_app.command("list")
def docs_list(kb: Annotated[str, typer.Option("--kb")], as_json: JsonFlag = False) -> None:
    """List a knowledge base's documents with status, chunk count and error."""
    ctx = open_context()
    try:
        kb_row = ctx.catalog.get(kb)
    except KBError as exc:
        fail(str(exc), 2)
    with ctx.db.session() as session:
        docs = session.scalars(
            select(DocumentRow).where(DocumentRow.kb_id == kb_row.id).order_by(DocumentRow.source)
        ).all()
        rows = [
            {
                "id": d.id,
                "source": d.source,
                "title": d.title,
                "status": d.status,
                "chunks": d.chunk_count,
                "error": d.error,
                "version": d.version,
                "groups": d.access_groups,
                "tags": d.scenario_tags,
                "external_id": d.external_id,
            }
            for d in docs
        ]
    if as_json:
        emit(rows)
        return
    table = Table("id", "source", "status", "chunks", "error")
    for row in rows:
        table.add_row(row["id"], row["source"], row["status"], str(row["chunks"]), row["error"] or "")
    Console().print(table)


@docs_app.command("delete")
def docs_delete(doc_id: str, as_json: JsonFlag = False) -> None:
    """Delete one document (its vectors and rows), as a job."""

    ctx = open_context()
    with ctx.db.session() as session:
        row = session.get(DocumentRow, doc_id)
    if row is None:
        fail(f"document {doc_id} does not exist; list them with `kb docs list --kb NAME`", 2)
    try:
        job_id = job_service(ctx).submit("delete_document", row.kb_id, {"document_id": doc_id}, None, 1)
        job = wait_for_job(ctx, job_id, row.kb_id, "deleting", quiet=as_json)
    except KBError as exc:
        fail(str(exc), 2)
    if job.status != "succeeded":
        fail(f"job {job_id} {job.status}: {job.error}", 1)
    if as_json:
        emit({"deleted": doc_id, "source": row.source, "job_id": job_id})
    else:
        err.print(f"deleted {row.source} ({doc_id})")


def register(app: typer.Typer) -> None:
    """Add ``kb ingest``, ``kb rerank-index`` and ``kb docs`` to the root command."""
    app.command("ingest")(ingest)
    app.command("rerank-index")(rerank_index_cmd)
    app.add_typer(docs_app, name="docs")
