"""The ``kb`` command line: knowledge bases, ingestion and documents (more verbs in later modules).

Machine-readable output (``--json``) goes to stdout; progress bars and messages go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from app.context import AppContext
from core.db import DocumentRow, IngestionJob, new_id
from core.errors import ConflictError, KBError
from core.settings import load_settings
from core.types import EVERYONE
from ingest.sources import SourceFile

app = typer.Typer(no_args_is_help=True, help="Enterprise knowledge-base assistant.", add_completion=False)
bases_app = typer.Typer(no_args_is_help=True, help="Create, list, update and delete knowledge bases.")
docs_app = typer.Typer(no_args_is_help=True, help="List and delete documents.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(bases_app, name="bases")
app.add_typer(docs_app, name="docs")
app.add_typer(db_app, name="db")

err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON to stdout.")]


def _context() -> AppContext:
    return AppContext(load_settings())


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _bar(quiet: bool) -> Progress:
    """A progress bar with counts and elapsed time, on stderr (none with --json)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    )


@bases_app.command("create")
def bases_create(
    name: str,
    scenario: Annotated[
        str, typer.Option(help="customer_service | finance | retail | employee")
    ] = "employee",
    description: str = "",
    read_group: Annotated[
        list[str] | None,
        typer.Option("--read-group", help="Group that may read it (repeatable); default: everyone."),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(help="Search backend: faiss | postgres | milvus (default: KB_BACKEND, else faiss)."),
    ] = None,
    embedder: Annotated[
        str | None,
        typer.Option(
            help="Embedding model: minilm (English) | minilm-int8 | multilingual (Chinese, English and "
            "across them; EmbeddingGemma) | e5-small (default: KB_EMBEDDER, else minilm)."
        ),
    ] = None,
    exist_ok: Annotated[bool, typer.Option("--exist-ok", help="Succeed if it already exists.")] = False,
    ocr: Annotated[
        bool, typer.Option("--ocr/--no-ocr", help="Read text in scanned pages and images.")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Create a knowledge base."""
    ctx = _context()
    try:
        groups = read_group or [EVERYONE]
        kb = ctx.catalog.create(
            name, scenario, description, read_groups=groups, ocr=ocr, backend=backend, embedder=embedder
        )
    except ConflictError as exc:
        if not exist_ok:
            _fail(str(exc), 2)
        kb = ctx.catalog.get(name)
    except (KBError, ValueError) as exc:
        _fail(str(exc), 2)
    if as_json:
        _emit(
            {
                "id": kb.id,
                "name": kb.name,
                "scenario": kb.scenario,
                "ocr": kb.ocr_enabled,
                "backend": kb.backend,
                "embedder": kb.embedder or kb.embedding_model,
            }
        )
    else:
        model = kb.embedder or kb.embedding_model or "the configured"
        err.print(
            f"created knowledge base [bold]{kb.name}[/bold] ({kb.scenario}, {kb.backend} backend, "
            f"{model} embedder)"
        )


@bases_app.command("update")
def bases_update(
    name: str,
    ocr: Annotated[
        bool | None,
        typer.Option("--ocr/--no-ocr", help="Read text in scanned pages and images on the next ingests."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a knowledge base's settings."""
    try:
        _context().catalog.update(name, description=description, ocr=ocr)
        row = next(r for r in _context().catalog.list() if r["name"] == name)
    except KBError as exc:
        _fail(str(exc), 2)
    if as_json:
        _emit(row)
    else:
        err.print(f"updated knowledge base [bold]{name}[/bold] (OCR {'on' if row['ocr'] else 'off'})")


@bases_app.command("list")
def bases_list(as_json: JsonFlag = False) -> None:
    """List knowledge bases with document and chunk counts."""
    rows = _context().catalog.list()
    if as_json:
        _emit(rows)
        return
    table = Table("name", "scenario", "backend", "embedder", "documents", "chunks", "OCR")
    for row in rows:
        table.add_row(
            *(str(row[c]) for c in ("name", "scenario", "backend", "embedder", "documents", "chunks")),
            "on" if row["ocr"] else "off",
        )
    Console().print(table)


@bases_app.command("migrate")
def bases_migrate(
    name: str,
    to: Annotated[str, typer.Option("--to", help="Target backend: faiss | postgres | milvus.")],
    as_json: JsonFlag = False,
) -> None:
    """Re-index a base into another search backend (vectors are copied, not re-embedded), as a job."""
    from app.cli_jobs import job_service, wait_for_job
    from core.stores.registry import validate_backend

    ctx = _context()
    try:
        kb = ctx.catalog.get(name)
        target = validate_backend(to)
        if kb.backend == target:
            raise ConflictError(f"knowledge base {name!r} already uses the {target} backend")
        ctx.backends.get(target)  # a backend that cannot work here fails now, by name
        job_id = job_service(ctx).submit("migrate_base", kb.id, {"migrate_to": target}, None)
        job = wait_for_job(ctx, job_id, kb.id, f"{name} → {target}", quiet=as_json)
    except (KBError, ValueError) as exc:
        _fail(str(exc), 2)
    if job.status != "succeeded":
        _fail(f"job {job_id} {job.status}: {job.error}", 2)
    result = (job.results or [{}])[0]
    if as_json:
        _emit({"name": name, "from": result.get("from", kb.backend), "to": target, "chunks": job.chunks})
    else:
        err.print(f"moved [bold]{name}[/bold] from {kb.backend} to {target} ({job.chunks} chunks)")


@bases_app.command("reembed")
def bases_reembed(
    name: str,
    embedder: Annotated[
        str,
        typer.Option(
            "--embedder", help="New embedding model: minilm | minilm-int8 | multilingual | e5-small."
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Re-embed a base's chunks with another model, then switch the base to it (searches keep using
    the old vectors until the new ones are complete)."""
    from ingest.reembed import BaseReembedder

    ctx = _context()
    try:
        with _bar(as_json) as bar:
            task = bar.add_task(f"{name}: embedding with {embedder}", total=None)

            def progress(phase: str, done: int, total: int) -> None:
                bar.update(task, description=f"{name}: {phase}", completed=done, total=total)

            report = BaseReembedder(ctx.db, ctx.backends, ctx.models).reembed(
                name, embedder, progress=progress
            )
    except (KBError, ValueError) as exc:
        _fail(str(exc), 2)
    if as_json:
        _emit(report.__dict__)
    else:
        err.print(
            f"re-embedded [bold]{name}[/bold] with {report.embedder} ({report.dim}-d, {report.chunks} "
            f"chunks; was {report.previous})"
        )


@bases_app.command("check")
def bases_check(name: str, as_json: JsonFlag = False) -> None:
    """Check that SQL and the base's search store agree; exit 1 when they do not."""
    from core.stores.consistency import check_consistency

    ctx = _context()
    problems = check_consistency(ctx.db, ctx.backends, name)
    if as_json:
        _emit({"name": name, "problems": problems})
    else:
        for problem in problems:
            err.print(f"[red]problem:[/red] {problem}")
        if not problems:
            err.print(f"{name}: SQL and the search store agree")
    if problems:
        raise typer.Exit(1)


@bases_app.command("delete")
def bases_delete(name: str, yes: Annotated[bool, typer.Option("--yes", "-y")] = False) -> None:
    """Delete a knowledge base with all its documents and indexes."""
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Delete knowledge base {name!r}?"):
        raise typer.Exit(1)
    try:
        _context().catalog.delete(name)
    except KBError as exc:
        _fail(str(exc), 2)
    err.print(f"deleted knowledge base [bold]{name}[/bold]")


@app.command("ingest")
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
    from app.cli_jobs import job_service, wait_for_job
    from ingest.sources import expand_paths

    ctx = _context()
    try:
        kb_row = ctx.catalog.get(kb)
        for path in paths:
            if not path.exists():
                _fail(f"{path}: no such file or folder", 2)
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
        _fail(str(exc), 2)
    if as_json:
        _emit(report)
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
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("reranker vectors", total=None)
        return reranker.index_kb(
            ctx.catalog.get(kb).id, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )


@app.command("rerank-index")
def rerank_index_cmd(kb: Annotated[str, typer.Option("--kb")]) -> None:
    """Embed every chunk that still lacks a reranker vector (e.g. after `kb ingest --no-rerank-index`)."""
    ctx = _context()
    try:
        ctx.catalog.get(kb)
    except KBError as exc:
        _fail(str(exc), 2)
    added = _fill_rerank_vectors(ctx, kb)
    err.print(f"{added} chunks embedded for the reranker")


@docs_app.command("list")
def docs_list(kb: Annotated[str, typer.Option("--kb")], as_json: JsonFlag = False) -> None:
    """List a knowledge base's documents with status, chunk count and error."""
    ctx = _context()
    try:
        kb_row = ctx.catalog.get(kb)
    except KBError as exc:
        _fail(str(exc), 2)
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
        _emit(rows)
        return
    table = Table("id", "source", "status", "chunks", "error")
    for row in rows:
        table.add_row(row["id"], row["source"], row["status"], str(row["chunks"]), row["error"] or "")
    Console().print(table)


@docs_app.command("delete")
def docs_delete(doc_id: str, as_json: JsonFlag = False) -> None:
    """Delete one document (its vectors and rows), as a job."""
    from app.cli_jobs import job_service, wait_for_job

    ctx = _context()
    with ctx.db.session() as session:
        row = session.get(DocumentRow, doc_id)
    if row is None:
        _fail(f"document {doc_id} does not exist; list them with `kb docs list --kb NAME`", 2)
    try:
        job_id = job_service(ctx).submit("delete_document", row.kb_id, {"document_id": doc_id}, None, 1)
        job = wait_for_job(ctx, job_id, row.kb_id, "deleting", quiet=as_json)
    except KBError as exc:
        _fail(str(exc), 2)
    if job.status != "succeeded":
        _fail(f"job {job_id} {job.status}: {job.error}", 1)
    if as_json:
        _emit({"deleted": doc_id, "source": row.source, "job_id": job_id})
    else:
        err.print(f"deleted {row.source} ({doc_id})")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    AppContext(load_settings(), migrate=True)
    err.print("database is up to date")


def _register_more() -> None:
    from app import cli_api, cli_generation, cli_jobs, cli_retrieval, cli_ui

    cli_jobs.register(app)
    cli_retrieval.register(app)
    cli_generation.register(app)
    cli_api.register(app)
    cli_ui.register(app)


_register_more()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
