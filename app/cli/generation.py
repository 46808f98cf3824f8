"""``kb ask`` and ``kb eval answers``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.cli.common import err, open_context
from app.cli.retrieval import eval_app, principal_from_flags
from app.services.chat.answering import answer_payload
from core.errors import KBError
from core.types import Answer
from generation.answerer import AskHooks
from retrieval.filters import SearchFilters


def ask(
    question: Annotated[str, typer.Argument(help="The question (or, with --draft, the customer's message).")],
    kb: Annotated[list[str], typer.Option("--kb", help="Knowledge base (repeatable).")],
    scenario: Annotated[
        str, typer.Option(help="employee | customer_service | finance | retail")
    ] = "employee",
    draft: Annotated[
        bool, typer.Option("--draft", help="Draft a reply to a customer's message instead of answering.")
    ] = False,
    tone: Annotated[str, typer.Option(help="friendly | formal | concise (reply drafts)")] = "friendly",
    user: Annotated[str | None, typer.Option("--user")] = None,
    group: Annotated[list[str] | None, typer.Option("--group")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Answer a question from the knowledge base. Streams only sentences that passed the citation
    checks; what is printed is never withdrawn."""
    ctx = open_context()
    filters = SearchFilters(kbs=tuple(kb))
    out = Console()
    hooks = AskHooks(
        on_piece=None if as_json else (lambda p: out.print(p.delta, end="", markup=False, highlight=False))
    )
    try:
        answer = ctx.answerer.ask(
            question,
            filters=filters,
            principal=principal_from_flags(user, group),
            scenario="customer_service" if draft else scenario,
            tone=tone,
            task="draft_reply" if draft else "answer",
            hooks=hooks,
        )
    except (KBError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(answer_payload(answer), ensure_ascii=False) + "\n")
        return
    if answer.kind != "generated":  # a quote or an abstention comes whole, once the model is done
        out.print(answer.text, markup=False, highlight=False)
    out.print()
    if answer.notice:
        err.print(f"[yellow]{answer.notice}[/yellow]", markup=True, highlight=False)
    for c in answer.citations:
        where = f"p.{c.page}" if c.page else (c.section or "")
        out.print(f'[{c.n}] {c.title} ({c.source} {where}): "{c.snippet[:160]}"', markup=False)
    if answer.abstained:
        for c in answer.closest:
            where = f", p.{c.page}" if c.page else ""
            out.print(f'  - {c.title} ({c.source}{where}): "{c.snippet[:120]}"', markup=False)
    for sentence in answer.unsupported_sentences:
        err.print(f"[dim]left out (not supported by the sources):[/dim] {sentence}", highlight=False)


@eval_app.command("answers")
def eval_answers(
    kb: Annotated[list[str], typer.Option("--kb")],
    qa: Annotated[Path, typer.Option("--qa", exists=True, help="JSONL of {question, answer}")],
    scenario: Annotated[str, typer.Option()] = "employee",
    limit: Annotated[int | None, typer.Option(help="Only the first N questions.")] = None,
    filter_by: Annotated[
        list[str] | None,
        typer.Option(
            "--filter-by",
            help="Restrict each question's search to documents whose metadata KEY equals the "
            "question's own metadata[KEY] (e.g. asin for product questions; repeatable).",
        ),
    ] = None,
    context: Annotated[
        str,
        typer.Option(
            help="retrieved (search the knowledge base) | gold (read each question's own `context` "
            "passages through the same answerer, to separate reading from retrieval errors)."
        ),
    ] = "retrieved",
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the full JSON report to this file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Answer quality, citation support, abstention and timing over a Q&A file."""
    from generation.evaluation import FixedHits, QAItem, evaluate_answers, gold_hits, read_qa
    from generation.replay import RecordingGenerator
    from retrieval.evaluation import EVAL_PRINCIPAL

    if context not in ("retrieved", "gold"):
        err.print("[red]error:[/red] --context is retrieved or gold")
        raise typer.Exit(2)
    ctx = open_context()
    items = read_qa(qa)[:limit]
    keys = tuple(filter_by or ())
    missing = [i.question for i in items if any(k not in i.metadata for k in keys)]
    if missing:
        err.print(f"[red]error:[/red] {len(missing)} questions lack metadata {keys}: {missing[0]!r}")
        raise typer.Exit(2)

    recorder = RecordingGenerator(ctx.generator)
    embed = ctx.answer_profile(tuple(kb)).embed  # the base's own model: similarity in its language

    def ask_item(item: QAItem) -> Answer:
        filters = SearchFilters(kbs=tuple(kb), metadata={k: item.metadata[k] for k in keys})
        answerer = ctx.answerer.using(generator=recorder)
        if context == "gold":
            hits = gold_hits(item, kb[0], embed)
            answerer = answerer.using(retriever=FixedHits(hits), routed=False)
        recorder.last = ""
        return answerer.ask(item.question, filters=filters, principal=EVAL_PRINCIPAL, scenario=scenario)

    try:
        report = evaluate_answers(
            items,
            ask_item=ask_item,
            embed=embed,
            progress=lambda done, total: err.print(f"\r{done}/{total}", end=""),
            raw_text=lambda: recorder.last,
        )
    except (KBError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    err.print()
    report = {"kb": list(kb), "scenario": scenario, "context": context, "filter_by": list(keys), **report}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        for key, value in report.items():
            if key != "per_question":
                Console().print(f"{key:>32}: {value}")


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
