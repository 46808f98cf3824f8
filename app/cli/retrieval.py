"""``kb search`` and ``kb eval retrieval``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import err, open_context
from core.errors import KBError
from core.types import Hit, Principal
from retrieval.evaluation import Unit
from retrieval.filters import SearchFilters
from retrieval.routing import Route

eval_app = typer.Typer(no_args_is_help=True, help="Measure retrieval and answer quality.")


def hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "chunk_id": hit.chunk_id,
        "document_id": hit.document_id,
        "kb": hit.kb,
        "source": hit.source,
        "title": hit.title,
        "page": hit.page,
        "section": " > ".join(hit.heading_path) or None,
        "external_id": hit.external_id,
        "ocr_confidence": hit.metadata.get("ocr_confidence"),
        "text": hit.text,
        "scores": {
            "dense": hit.dense_score,
            "sparse": hit.sparse_score,
            "fused": hit.fused_score,
            "rerank": hit.rerank_score,
        },
    }


def principal_from_flags(user: str | None, groups: list[str] | None) -> Principal:
    """CLI callers act as an operator: ``--group`` narrows to those groups; otherwise all documents."""
    if groups:
        return Principal(user_id=user or "cli", groups=frozenset(groups))
    return Principal(user_id=user or "cli", admin=True)


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    kb: Annotated[list[str], typer.Option("--kb", help="Knowledge base (repeatable).")],
    k: Annotated[int, typer.Option("-k", min=1, max=200)] = 10,
    user: Annotated[str | None, typer.Option("--user", help="Search as this user id.")] = None,
    group: Annotated[list[str] | None, typer.Option("--group", help="Search as a member of G.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only documents with this tag.")] = None,
    no_rerank: Annotated[bool, typer.Option("--no-rerank")] = False,
    no_route: Annotated[
        bool, typer.Option("--no-route", help="Ignore the company, period or product the query names.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Hybrid search (dense + BM25, fused, reranked) over one or more knowledge bases, routed by
    the company, period or product the query names (document facts)."""
    ctx = open_context()
    filters = SearchFilters(kbs=tuple(kb), tags=frozenset(tag) if tag else None)
    principal = principal_from_flags(user, group)
    try:
        route = Route(filters) if no_route else ctx.router.route(query, filters, principal)
        found = (
            []
            if route.missing_entity
            else ctx.retriever.search(
                query,
                k=route.candidate_k(k),
                filters=route.filters,
                principal=principal,
                rerank=not no_rerank,
            )
        )
        hits = route.rank(found, k)
    except KBError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if route.missing_entity:
        err.print(f"no documents about {route.missing_entity} in {', '.join(kb)}")
    elif not as_json and (route.companies or route.products or route.periods):
        named = [*route.companies, *route.products, *route.periods]
        err.print(f"routed by: {', '.join(named)}")
    if as_json:
        sys.stdout.write(json.dumps([hit_json(h) for h in hits], ensure_ascii=False) + "\n")
        return
    if not hits:
        err.print("no results (nothing matched, or nothing you may read)")
    for rank, hit in enumerate(hits, 1):
        where = f"p.{hit.page}" if hit.page else " > ".join(hit.heading_path)
        if hit.metadata.get("ocr_confidence") is not None:
            where += f", OCR {hit.metadata['ocr_confidence']:.0%}"
        Console().print(f"[bold]{rank}. {hit.title}[/bold] ({hit.source} {where}) score={hit.score:.3f}")
        Console().print("   " + hit.text[:300].replace("\n", " "))


@eval_app.command("retrieval")
def eval_retrieval(
    kb: Annotated[str, typer.Option("--kb")],
    queries: Annotated[Path, typer.Option("--queries", exists=True, help="BEIR queries.jsonl")],
    qrels: Annotated[Path, typer.Option("--qrels", exists=True, help="BEIR qrels TSV")],
    unit: Annotated[str, typer.Option("--unit", help="chunk | doc | page")] = "doc",
    variant: Annotated[list[str] | None, typer.Option("--variant", help="Subset of variants.")] = None,
    filter_key: Annotated[
        str | None, typer.Option("--filter-key", help="Query metadata key to filter documents by.")
    ] = None,
    no_route: Annotated[
        bool, typer.Option("--no-route", help="Search without routing questions by document facts.")
    ] = False,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate",
            help="Record the fusion prior that scores best on these questions with the base; its "
            "searches use it from then on.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """nDCG@10, Recall@10/50, MRR@10 and latency for bm25, dense, hybrid and hybrid+rerank.

    Questions are routed by document facts (company, period, product) unless ``--no-route``. The
    fusion line shows the weights hybrid used and the prior calibrated on these questions."""
    from retrieval.evaluation import VARIANTS, evaluate, fusion_report, variant_searchers
    from retrieval.metrics import read_qrels, read_queries, read_query_filters

    if unit not in ("chunk", "doc", "page"):
        err.print("[red]error:[/red] --unit must be chunk, doc or page")
        raise typer.Exit(2)
    ctx = open_context()
    try:
        base = ctx.catalog.get(kb)
    except KBError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    chosen = variant or list(VARIANTS)
    if "hybrid+rerank" in chosen and ctx.reranker is None:
        err.print("no reranker configured (KB_RERANKER=none): skipping hybrid+rerank")
        chosen = [v for v in chosen if v != "hybrid+rerank"]
    searchers = variant_searchers(ctx.dense, ctx.sparse, ctx.retriever, with_rerank=True)
    query_texts = read_queries(queries)
    query_filters = read_query_filters(queries, filter_key) if filter_key else None
    results = evaluate(
        {name: searchers[name] for name in chosen},
        query_texts,
        read_qrels(qrels),
        unit=cast(Unit, unit),
        kb=kb,
        query_filters=query_filters,
        router=None if no_route else ctx.router,
    )
    rows = [res.as_dict() for res in results]
    fusion = None
    if calibrate and "hybrid" not in chosen:
        chosen.append("hybrid")
    if "hybrid" in chosen:
        cfg = ctx.retriever.config
        prior = (cfg.dense_weight, cfg.sparse_weight)
        if base.dense_prior is not None:
            prior = (base.dense_prior, 1.0 - base.dense_prior)
        fusion = fusion_report(
            ctx.dense,
            ctx.sparse,
            query_texts,
            read_qrels(qrels),
            unit=cast(Unit, unit),
            kb=kb,
            method=cfg.fusion,
            prior=prior,
            candidates=max(100, cfg.candidates),
            rrf_k=cfg.rrf_k,
            dedupe_threshold=cfg.dedupe_threshold,
            query_filters=query_filters,
        )
    if calibrate and fusion is not None:
        ctx.catalog.set_dense_prior(kb, fusion.best_prior)
        err.print(
            f"recorded with {kb}: fusion prior dense {fusion.best_prior:g} / sparse {1 - fusion.best_prior:g}"
        )
    if as_json:
        out: dict[str, Any] = {"kb": kb, "unit": unit, "routing": not no_route, "results": rows}
        if fusion is not None:
            out["fusion"] = {**fusion.as_dict(), "recorded": calibrate}
        sys.stdout.write(json.dumps(out) + "\n")
        return
    columns = ["variant", "nDCG@10", "R@10", "R@50", "MRR@10", "p50 ms", "p95 ms", "queries"]
    table = Table(*columns, *([] if no_route else ["routed", "missing entity"]))
    for row in rows:
        routing = [] if no_route else [str(row["routed"]), str(row["missing_entity"])]
        table.add_row(
            str(row["variant"]),
            *(f"{row[m]:.3f}" for m in ("ndcg@10", "recall@10", "recall@50", "mrr@10")),
            str(row["p50_ms"]),
            str(row["p95_ms"]),
            str(row["queries"]),
            *routing,
        )
    Console().print(table)
    if fusion is not None:
        Console().print(fusion.summary())


def register(app: typer.Typer) -> None:
    app.command("search")(search)
    app.add_typer(eval_app, name="eval")
