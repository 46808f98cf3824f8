"""Answer evaluation: token-F1 and embedding similarity to gold answers, phantom citations,
supported cited sentences, abstention (and false abstention), and timing."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.types import Answer
from generation.citations import check_answer

_WORD = re.compile(r"\w+", re.UNICODE)
_GOLD_CITE = re.compile(r"\[[^\]]*\.(?:pdf|md|docx|html|txt)[^\]]*\]", re.I)


@dataclass(frozen=True)
class QAItem:
    """One evaluation question; ``answer`` None marks a question the knowledge base cannot answer."""

    question: str
    answer: str | None
    sources: tuple[str, ...] = ()


def read_qa(path: Path) -> list[QAItem]:
    """JSONL of {question, answer} (also accepts {question, truth}); ``answerable: false`` or a null
    answer marks an unanswerable question."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        gold = row.get("answer", row.get("truth"))
        if row.get("answerable") is False:
            gold = None
        if gold is not None:
            gold = _GOLD_CITE.sub("", str(gold)).strip()
        items.append(QAItem(row["question"], gold, tuple(row.get("sources") or ())))
    return items


def token_f1(prediction: str, gold: str) -> float:
    pred = [w.lower() for w in _WORD.findall(re.sub(r"\[\d+\]", " ", prediction))]
    ref = [w.lower() for w in _WORD.findall(gold)]
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def evaluate_answers(
    items: list[QAItem],
    ask: Callable[[str], Answer],
    *,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Ask every question and aggregate the figures `kb eval answers` reports."""
    f1s, sims, first_tokens, totals, tps = [], [], [], [], []
    cited_sentences = supported = phantoms_removed = phantoms_left = 0
    answerable = [i for i in items if i.answer is not None]
    abstained_answerable = abstained_unanswerable = 0
    rows: list[dict[str, Any]] = []
    for n, item in enumerate(items, 1):
        answer = ask(item.question)
        if progress:
            progress(n, len(items))
        rows.append(
            {
                "question": item.question,
                "answerable": item.answer is not None,
                "abstained": answer.abstained,
                "answer": answer.text,
                "citations": [c.n for c in answer.citations],
                "unsupported_sentences": list(answer.unsupported_sentences),
            }
        )
        if answer.timings.get("first_token_ms"):
            first_tokens.append(answer.timings["first_token_ms"])
            tps.append(answer.timings.get("tokens_per_s", 0.0))
        totals.append(answer.timings.get("total_ms", 0.0))
        phantoms_removed += answer.removed_citations
        if not answer.abstained:
            valid = {c.n for c in answer.citations}
            cited = re.findall(r"\[(\d+)\]", answer.text)
            phantoms_left += sum(1 for c in cited if int(c) not in valid and int(c) > len(answer.sources))
            for check in check_answer(answer.text, list(answer.sources)):
                if check.cited:
                    cited_sentences += 1
                    supported += int(check.supported)
        if item.answer is None:
            abstained_unanswerable += int(answer.abstained)
            continue
        abstained_answerable += int(answer.abstained)
        f1s.append(0.0 if answer.abstained else token_f1(answer.text, item.answer))
        if embed is not None and not answer.abstained:
            vecs = embed([re.sub(r"\[\d+\]", "", answer.text), item.answer])
            sims.append(float(vecs[0] @ vecs[1]))
    unanswerable = len(items) - len(answerable)

    def pct(values: list[float], q: int) -> float | None:
        return round(float(np.percentile(values, q)), 1) if values else None

    return {
        "questions": len(items),
        "answerable": len(answerable),
        "unanswerable": unanswerable,
        "token_f1": round(float(np.mean(f1s)), 4) if f1s else None,
        "embedding_similarity": round(float(np.mean(sims)), 4) if sims else None,
        "phantom_citations_shown": phantoms_left,
        "phantom_citations_removed": phantoms_removed,
        "cited_sentences": cited_sentences,
        "supported_cited_sentence_rate": round(supported / cited_sentences, 4) if cited_sentences else None,
        "abstention_rate_unanswerable": round(abstained_unanswerable / unanswerable, 4)
        if unanswerable
        else None,
        "false_abstention_rate": round(abstained_answerable / len(answerable), 4) if answerable else None,
        "first_token_ms_p50": pct(first_tokens, 50),
        "first_token_ms_p95": pct(first_tokens, 95),
        "total_ms_p50": pct(totals, 50),
        "tokens_per_s_mean": round(float(np.mean(tps)), 2) if tps else None,
        "per_question": rows,
    }
