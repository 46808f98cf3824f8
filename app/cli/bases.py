"""``kb bases``: create, list, update, migrate, re-embed, check and delete knowledge bases."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import JsonFlag, emit, err, fail, open_context, progress_bar
from app.cli.jobs import job_service, wait_for_job
from core.errors import ConflictError, KBError
from core.types import EVERYONE

bases_app = typer.Typer(no_args_is_help=True, help="Create, list, update and delete knowledge bases.")


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
    ctx = open_context()
    try:
        groups = read_group or [EVERYONE]
        kb = ctx.catalog.create(
            name, scenario, description, read_groups=groups, ocr=ocr, backend=backend, embedder=embedder
        )
    except ConflictError as exc:
        if not exist_ok:
            fail(str(exc), 2)
        kb = ctx.catalog.get(name)
    except (KBError, ValueError) as exc:
        fail(str(exc), 2)
    if as_json:
        emit(
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
        open_context().catalog.update(name, description=description, ocr=ocr)
        row = next(r for r in open_context().catalog.list() if r["name"] == name)
    except KBError as exc:
        fail(str(exc), 2)
    if as_json:
        emit(row)
    else:
        err.print(f"updated knowledge base [bold]{name}[/bold] (OCR {'on' if row['ocr'] else 'off'})")


@bases_app.command("list")
def bases_list(as_json: JsonFlag = False) -> None:
    """List knowledge bases with document and chunk counts."""
    rows = open_context().catalog.list()
    if as_json:
        emit(rows)
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
    from core.stores.registry import validate_backend

    ctx = open_context()
    try:
        kb = ctx.catalog.get(name)
        target = validate_backend(to)
        if kb.backend == target:
            raise ConflictError(f"knowledge base {name!r} already uses the {target} backend")
        ctx.backends.get(target)  # a backend that cannot work here fails now, by name
        job_id = job_service(ctx).submit("migrate_base", kb.id, {"migrate_to": target}, None)
        job = wait_for_job(ctx, job_id, kb.id, f"{name} → {target}", quiet=as_json)
    except (KBError, ValueError) as exc:
        fail(str(exc), 2)
    if job.status != "succeeded":
        fail(f"job {job_id} {job.status}: {job.error}", 2)
    result = (job.results or [{}])[0]
    if as_json:
        emit({"name": name, "from": result.get("from", kb.backend), "to": target, "chunks": job.chunks})
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

    ctx = open_context()
    try:
        with progress_bar(as_json) as bar:
            task = bar.add_task(f"{name}: embedding with {embedder}", total=None)

            def progress(phase: str, done: int, total: int) -> None:
                bar.update(task, description=f"{name}: {phase}", completed=done, total=total)

            report = BaseReembedder(ctx.db, ctx.backends, ctx.models).reembed(
                name, embedder, progress=progress
            )
    except (KBError, ValueError) as exc:
        fail(str(exc), 2)
    if as_json:
        emit(report.__dict__)
    else:
        err.print(
            f"re-embedded [bold]{name}[/bold] with {report.embedder} ({report.dim}-d, {report.chunks} "
            f"chunks; was {report.previous})"
        )


@bases_app.command("check")
def bases_check(name: str, as_json: JsonFlag = False) -> None:
    """Check that SQL and the base's search store agree; exit 1 when they do not."""
    from core.stores.consistency import check_consistency

    ctx = open_context()
    problems = check_consistency(ctx.db, ctx.backends, name)
    if as_json:
        emit({"name": name, "problems": problems})
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
        open_context().catalog.delete(name)
    except KBError as exc:
        fail(str(exc), 2)
    err.print(f"deleted knowledge base [bold]{name}[/bold]")


def register(app: typer.Typer) -> None:
    """Add ``kb bases`` to the root command."""
    app.add_typer(bases_app, name="bases")
