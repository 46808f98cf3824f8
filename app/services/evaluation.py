"""Evaluation runs the API (and UI) start on an uploaded file: answer quality or retrieval quality."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.context import AppContext
from core.types import Principal
from generation.evaluation import evaluate_answers, read_qa
from retrieval.filters import SearchFilters
from retrieval.metrics import ndcg_at

RETRIEVAL_K = 10


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {n} is not valid JSON ({exc.msg}); fix the file") from None
        if not isinstance(row, dict):
            raise ValueError(f"line {n} is not a JSON object")
        rows.append(row)
    if not rows:
        raise ValueError("the file has no questions; one JSON object per line")
    return rows


def evaluate_file(
    ctx: AppContext, kb: str, path: Path, kind: str, limit: int, principal: Principal
) -> dict[str, Any]:
    """``answers``: lines of {question, answer}; ``retrieval``: lines of {query, relevant: [source
    or document id, ...]}. At most ``limit`` questions, asked as ``principal``."""
    filters = SearchFilters(kbs=(kb,))
    if kind == "answers":
        _read_jsonl(path)  # clear errors for malformed lines before the slow part
        try:
            items = read_qa(path)[:limit]
        except KeyError as exc:
            raise ValueError(f"every line needs a {exc} field") from None
        report = evaluate_answers(
            items,
            lambda q: ctx.answerer.ask(q, filters=filters, principal=principal),
            embed=ctx.answer_profile((kb,)).embed,
        )
        per_question = report.pop("per_question", [])
        summary = {k: v for k, v in report.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        return {"kind": kind, "summary": summary, "per_question": per_question}
    rows = _read_jsonl(path)[:limit]
    per_question = []
    for n, row in enumerate(rows, 1):
        query = row.get("query") or row.get("question")
        relevant = row.get("relevant") or row.get("sources")
        if not isinstance(query, str) or not isinstance(relevant, list) or not relevant:
            raise ValueError(
                f"line {n} needs 'query' (text) and 'relevant' (a list of sources or document ids)"
            )
        hits = ctx.retriever.search(query, k=RETRIEVAL_K, filters=filters, principal=principal)
        ranking = list(dict.fromkeys(h.source if h.source in relevant else h.document_id for h in hits))
        gains = {r: 1 for r in relevant}
        first = next((i for i, key in enumerate(ranking, 1) if key in gains), None)
        per_question.append(
            {
                "query": query,
                "hit@1": float(first == 1),
                f"recall@{RETRIEVAL_K}": len(set(ranking) & set(gains)) / len(gains),
                "mrr": 1 / first if first else 0.0,
                f"ndcg@{RETRIEVAL_K}": ndcg_at(ranking, gains, RETRIEVAL_K),
                "top": [{"source": h.source, "page": h.page, "score": round(h.score, 4)} for h in hits[:3]],
            }
        )
    metrics = [k for k in per_question[0] if k not in ("query", "top")]
    summary = {m: round(sum(q[m] for q in per_question) / len(per_question), 4) for m in metrics}
    summary["questions"] = len(per_question)
    return {"kind": kind, "summary": summary, "per_question": per_question}
