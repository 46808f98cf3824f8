"""Answer evaluation: token-F1 and embedding similarity to gold answers, short-answer match,
phantom citations, supported cited sentences, the number check (numbers not found in their cited
passages, and whether each was flagged), abstention (and false abstention), and timing."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.text_match import compact, has_han
from core.types import Answer, Hit, Principal
from generation.amounts import amount_matches, amounts_in, scale_factor
from generation.citations import check_answer
from generation.sentences import cited_numbers, numbers_in, split_sentences
from retrieval.filters import SearchFilters

_WORD = re.compile(r"\w+", re.UNICODE)
_CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")  # as generation.citations parses them
_GOLD_CITE = re.compile(r"\[[^\]]*\.(?:pdf|md|docx|html|txt)[^\]]*\]", re.I)


@dataclass(frozen=True)
class QAItem:
    """One evaluation question; ``answer`` None marks a question the knowledge base cannot answer."""

    question: str
    answer: str | None
    sources: tuple[str, ...] = ()
    spans: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    context: tuple[tuple[str, str], ...] = field(default=(), compare=False)


def read_qa(path: Path) -> list[QAItem]:
    """JSONL of {question, answer} (also accepts {question, truth}); ``answerable: false`` or a null
    answer marks an unanswerable question. Optional keys: ``answer_spans`` (short gold answers, e.g.
    TAT-QA's spans or numbers, scored by :func:`span_match`), ``metadata`` (e.g. ``{"asin": ...}`` for
    a per-question metadata filter) and ``context`` (the gold passages, ``[{"title", "text"}]``)."""
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
        context = tuple(
            (str(c.get("title") or ""), str(c["text"])) if isinstance(c, dict) else ("", str(c))
            for c in row.get("context") or ()
        )
        items.append(
            QAItem(
                row["question"],
                gold,
                tuple(row.get("sources") or ()),
                tuple(str(x) for x in row.get("answer_spans") or ()),
                dict(row.get("metadata") or {}),
                context,
            )
        )
    return items


def gold_hits(item: QAItem, kb: str, embed: Callable[[list[str]], np.ndarray] | None = None) -> list[Hit]:
    """The item's gold passages as Hits, so the same Answerer (evidence gate, prompt, citation checks)
    reads them instead of retrieved ones. ``embed`` gives each its real dense cosine to the question,
    so the evidence gate applies as in retrieval; without it the gate is passed."""
    if not item.context:
        raise ValueError(f"no gold context for question {item.question!r}")
    scores: list[float | None] = [None] * len(item.context)
    if embed is not None:
        vecs = embed([item.question] + [text for _, text in item.context])
        scores = [float(vecs[0] @ v) for v in vecs[1:]]
    return [
        Hit(
            chunk_id=f"gold-{n}",
            document_id=f"gold-{n}",
            kb=kb,
            text=text,
            source=title or f"gold passage {n}",
            title=title or f"gold passage {n}",
            page=None,
            heading_path=(),
            char_start=0,
            char_end=len(text),
            dense_score=score,
            sparse_score=None if score is not None else 1.0,
        )
        for n, ((title, text), score) in enumerate(zip(item.context, scores, strict=True), 1)
    ]


class FixedHits:
    """A retriever that returns given hits whatever the query (gold-context evaluation)."""

    def __init__(self, hits: list[Hit]):
        self.hits = hits

    def search(self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None) -> list[Hit]:
        return list(self.hits)


def token_f1(prediction: str, gold: str) -> float:
    pred = [w.lower() for w in _WORD.findall(re.sub(r"\[\d+\]", " ", prediction))]
    ref = [w.lower() for w in _WORD.findall(gold)]
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _norm_text(text: str) -> str:
    return " ".join(w.lower() for w in _WORD.findall(text))


_AMOUNT_WORDS = re.compile(
    r"\b(?:thousands?|millions?|billions?|trillion|bn|mn|percent|per\s+cent|[kmb])\b", re.I
)


def span_match(prediction: str, spans: tuple[str, ...] | list[str], scale: str = "") -> bool:
    """Every gold span is in the prediction: a number equal to one in the prediction up to rounding
    and scale (``scale``: the gold's, e.g. "thousand"; sign ignored, since "decreased by 5" states -5),
    a text span as a word sequence (a Chinese one as a character sequence, punctuation and spaces
    aside).

    Example: ``span_match("Revenue rose 12.35% [1].", ["12.3456"])`` is True (rounded to 2 places);
    ``span_match("$4,143 million", ["4,143"], "thousand")`` is False.
    """
    if not spans:
        return False
    text = re.sub(r"\[\d+\]", " ", prediction)
    stated = amounts_in(text)
    words = f" {_norm_text(text)} "
    for span in spans:
        gold = amounts_in(span)
        if len(gold) == 1 and not re.search(r"[^\W\d_]", _AMOUNT_WORDS.sub(" ", span)):
            ok = amount_matches(gold[0], stated, scale_factor(scale))
        elif has_han(span):  # Chinese has no spaces between words: the span as a character sequence
            ok = compact(span) in compact(text)
        else:
            ok = f" {_norm_text(span)} " in words
        if not ok:
            return False
    return True


def figure_match(prediction: str, gold_answer: str) -> bool | None:
    """Whether the prediction states one of the gold answer's amounts (a number with "$", "%" or a
    scale word) within rounding and scale ("$39.7 billion" = "$39,669 million"); None when the gold
    answer states no amount."""
    amounts = [a for a in amounts_in(gold_answer) if a.money or a.percent or a.scale is not None]
    if not amounts:
        return None
    stated = amounts_in(prediction)
    return any(amount_matches(g, stated) for g in amounts)


def number_check(answer: Answer) -> tuple[int, int, int]:
    """(numbers stated, numbers absent from the sentence's cited passages, of those how many sit in a
    sentence the answer flags as unsupported). Uncited sentences have no cited passage."""
    stated = missing = flagged = 0
    hits = list(answer.sources)
    unsupported = set(answer.unsupported_sentences)
    # a quote's numbers are its passage's; its label's page number is no claim
    text = answer.text
    if answer.kind == "quoted":
        text = f"{answer.citations[0].snippet} [{answer.citations[0].n}]"
    if answer.kind == "computed":  # the result is computed; its inputs are the claims to check
        text = answer.text.splitlines()[-1]
    for sentence in split_sentences(text):
        numbers = numbers_in(_CITE.sub(" ", sentence))
        if not numbers:
            continue
        cited = [n for n in cited_numbers(sentence) if 1 <= n <= len(hits)]
        have = numbers_in(" ".join(hits[n - 1].text for n in cited))
        absent = numbers - have
        stated += len(numbers)
        missing += len(absent)
        flagged += len(absent) if sentence in unsupported else 0
    return stated, missing, flagged


def _shown_checks(answer: Answer) -> list[tuple[str, bool]]:
    """(cited sentence, supported under the strict lexical-and-number check) for each cited sentence
    shown. A quote counts as supported when it is verbatim in the passage it cites."""
    hits = list(answer.sources)
    if answer.kind == "quoted":
        cited = answer.citations[0]
        passage = " ".join(hits[cited.n - 1].text.split()) if 1 <= cited.n <= len(hits) else ""
        return [(cited.snippet, " ".join(cited.snippet.split()) in passage)]
    if answer.kind in ("computed", "table"):  # each input (each cell read) must be in its passage
        inputs = answer.text.splitlines()[-1]
        cited_text = " ".join(hits[n - 1].text for n in cited_numbers(inputs) if 1 <= n <= len(hits))
        return [(inputs, not numbers_in(_CITE.sub(" ", inputs)) - numbers_in(cited_text))]
    return [(c.text, c.supported) for c in check_answer(answer.text, hits) if c.cited]


def _hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "document_id": hit.document_id,
        "source": hit.source,
        "title": hit.title,
        "page": hit.page,
        "heading_path": list(hit.heading_path),
        "dense_score": hit.dense_score,
        "sparse_score": hit.sparse_score,
        "text": hit.text,
    }


def _pct(values: list[float], q: int) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def evaluate_answers(
    items: list[QAItem],
    ask: Callable[[str], Answer] | None = None,
    *,
    ask_item: Callable[[QAItem], Answer] | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    progress: Callable[[int, int], None] | None = None,
    raw_text: Callable[[], str] | None = None,
) -> dict[str, Any]:
    """Ask every question and aggregate the figures `kb eval answers` reports. ``ask_item`` (given the
    whole item: its metadata filter or gold context) replaces ``ask`` (given the question only).
    ``raw_text`` returns the model's unchecked text of the last answer: with it each row keeps a
    trace (passages and model text) that ``benchmarks/support_calibration.py`` replays."""
    if ask_item is None:
        if ask is None:
            raise ValueError("give ask or ask_item")
        ask_item = lambda item: ask(item.question)  # noqa: E731
    f1s, sims, first_tokens, first_shown, totals, tps, prompt_tokens = [], [], [], [], [], [], []
    cpu_first_tokens, cpu_first_shown = [], []
    span_hits: list[bool] = []
    figure_hits: list[bool] = []
    numbers_stated = numbers_missing = numbers_flagged = answers_with_missing = 0
    cited_sentences = supported = phantoms_removed = phantoms_left = 0
    kinds: Counter[str] = Counter()
    answerable = [i for i in items if i.answer is not None]
    abstained_answerable = abstained_unanswerable = 0
    rows: list[dict[str, Any]] = []
    for n, item in enumerate(items, 1):
        answer = ask_item(item)
        if progress:
            progress(n, len(items))
        kinds[answer.kind] += 1
        row: dict[str, Any] = {
            "question": item.question,
            "answerable": item.answer is not None,
            "gold": item.answer,
            "abstained": answer.abstained,
            "kind": answer.kind,
            "answer": answer.text,
            "query": answer.query,
            "citations": [c.n for c in answer.citations],
            "cited_sources": [{"n": c.n, "source": c.source, "page": c.page} for c in answer.citations],
            "unsupported_sentences": list(answer.unsupported_sentences),
            "first_token_ms": answer.timings.get("first_token_ms"),
            "timings": dict(answer.timings),
        }
        if raw_text is not None:
            row["trace"] = {"raw": raw_text(), "hits": [_hit_json(h) for h in answer.sources]}
        rows.append(row)
        timings = answer.timings
        if timings.get("first_token_ms"):
            first_tokens.append(timings["first_token_ms"])
            tps.append(timings.get("tokens_per_s", 0.0))
        if timings.get("first_shown_ms"):  # the first checked sentence, or the quote
            first_shown.append(timings["first_shown_ms"])
            cpu_first_shown.append(timings.get("first_shown_cpu_ms", 0.0))
        if timings.get("first_token_cpu_ms"):
            cpu_first_tokens.append(timings["first_token_cpu_ms"])
        if timings.get("prompt_tokens"):
            prompt_tokens.append(timings["prompt_tokens"])
        totals.append(timings.get("total_ms", 0.0))
        phantoms_removed += answer.removed_citations
        if not answer.abstained:
            stated, missing, flagged = number_check(answer)
            numbers_stated, numbers_missing, numbers_flagged = (
                numbers_stated + stated,
                numbers_missing + missing,
                numbers_flagged + flagged,
            )
            answers_with_missing += int(missing > 0)
            row["numbers"] = {"stated": stated, "not_in_cited_sources": missing, "flagged": flagged}
            valid = {c.n for c in answer.citations}
            cited = re.findall(r"\[(\d+)\]", answer.text)
            phantoms_left += sum(1 for c in cited if int(c) not in valid and int(c) > len(answer.sources))
            shown = _shown_checks(answer)
            row["strict_unsupported"] = [text for text, ok in shown if not ok]
            cited_sentences += len(shown)
            supported += sum(ok for _, ok in shown)
        if item.answer is None:
            abstained_unanswerable += int(answer.abstained)
            continue
        abstained_answerable += int(answer.abstained)
        f1s.append(0.0 if answer.abstained else token_f1(answer.text, item.answer))
        figure = figure_match("" if answer.abstained else answer.text, item.answer)
        if figure is not None:
            figure_hits.append(figure)
            row["figure_match"] = figure
        if item.spans:
            scale = str(item.metadata.get("scale") or "")
            span_hits.append(not answer.abstained and span_match(answer.text, item.spans, scale))
            row["span_match"] = span_hits[-1]
        if embed is not None and not answer.abstained:
            vecs = embed([re.sub(r"\[\d+\]", "", answer.text), item.answer])
            sims.append(float(vecs[0] @ vecs[1]))
    unanswerable = len(items) - len(answerable)
    return {
        "questions": len(items),
        "answerable": len(answerable),
        "unanswerable": unanswerable,
        "answers_generated": kinds["generated"],
        "answers_quoted": kinds["quoted"],
        "answers_abstained": kinds["abstained"],
        "token_f1": round(float(np.mean(f1s)), 4) if f1s else None,
        "embedding_similarity": round(float(np.mean(sims)), 4) if sims else None,
        "span_match_rate": round(sum(span_hits) / len(span_hits), 4) if span_hits else None,
        "span_questions": len(span_hits),
        "gold_figure_rate": round(sum(figure_hits) / len(figure_hits), 4) if figure_hits else None,
        "gold_figure_questions": len(figure_hits),
        "answers_computed": kinds["computed"],
        "answers_read_from_tables": kinds["table"],
        "phantom_citations_shown": phantoms_left,
        "phantom_citations_removed": phantoms_removed,
        "cited_sentences": cited_sentences,
        "supported_cited_sentence_rate": round(supported / cited_sentences, 4) if cited_sentences else None,
        "abstention_rate_unanswerable": round(abstained_unanswerable / unanswerable, 4)
        if unanswerable
        else None,
        "numbers_stated": numbers_stated,
        "numbers_not_in_cited_sources": numbers_missing,
        "unverified_number_rate": round(numbers_missing / numbers_stated, 4) if numbers_stated else None,
        "unverified_numbers_flagged_rate": round(numbers_flagged / numbers_missing, 4)
        if numbers_missing
        else None,
        "answers_with_unverified_numbers": answers_with_missing,
        "abstained_answerable": abstained_answerable,
        "abstained_unanswerable": abstained_unanswerable,
        "false_abstention_rate": round(abstained_answerable / len(answerable), 4) if answerable else None,
        "first_token_ms_p50": _pct(first_tokens, 50),
        "first_token_ms_p95": _pct(first_tokens, 95),
        "first_shown_ms_p50": _pct(first_shown, 50),
        "first_shown_ms_p95": _pct(first_shown, 95),
        "first_token_cpu_ms_p50": _pct(cpu_first_tokens, 50),
        "first_shown_cpu_ms_p50": _pct(cpu_first_shown, 50),
        "prompt_tokens_p50": _pct(prompt_tokens, 50),
        "total_ms_p50": _pct(totals, 50),
        "tokens_per_s_mean": round(float(np.mean(tps)), 2) if tps else None,
        "per_question": rows,
    }
