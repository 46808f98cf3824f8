"""Calibrating the answer checks on dev sets (questions not in the evaluation sets of docs/benchmarks.md).

Usage:
  python -m benchmarks.support_calibration prepare                    # writes benchmarks/data/dev_*.jsonl
  python -m benchmarks.support_calibration calibrate --kb contoso R…  # support rules (R: dev traces)
  python -m benchmarks.support_calibration quotes R…                  # quote thresholds on dev traces

``calibrate`` scores each support rule twice. (1) Labelled pairs: human (or curated) answer sentences
against the passage that supports them and against a hard negative (the other snippet of the same
product closest to the answer, or the best-ranked page that is not the gold page): precision and
recall of "supported". Label noise: a hard negative can happen to support the sentence too (the
Contoso plans repeat each other), so precision is a lower bound. (2) Dev traces: the passages and
the model's own text of every dev question, as ``kb eval answers --out`` stores them, re-checked with
the rule (quotes and abstention included), without the model: the model's text does not depend on the
checks. ``quotes`` does (2) for the quoted-answer thresholds.

Dev sets (seeded, disjoint from the evaluation sets):
- ``dev_contoso_30.jsonl``: Contoso ground-truth questions 21-50 (evaluation: 1-20).
- ``dev_hetpqa_20_plus_20_swapped.jsonl``: 20 hetPQA answer-generation dev questions not among the
  evaluation's 25, asked about their own product, then the same 20 asked about another product (the
  ``asin`` filter names a product the question is not about: unanswerable, same domain).
- ``dev_docugami_15_unanswerable.jsonl``: 15 Docugami 10-Q questions not in any evaluation set, for the
  Contoso base (unanswerable, another domain).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.answers_eval import FINANCE_QA, HETPQA_QA, _write
from benchmarks.datasets import DATA, DEFAULT_SHARED, HETPQA_CORPUS, _datasets_dir
from generation.answerer import Answerer
from generation.evaluation import FixedHits, QAItem, _shown_checks
from generation.replay import ReplayGenerator, hits_from_trace, replay
from generation.support import Evidence, SupportChecker, SupportConfig

DEV_CONTOSO = DATA / "dev_contoso_30.jsonl"
DEV_HETPQA = DATA / "dev_hetpqa_20_plus_20_swapped.jsonl"
DEV_DOCUGAMI = DATA / "dev_docugami_15_unanswerable.jsonl"
SEED = 1


def contoso_dev(root: Path, first: int = 20, n: int = 30) -> list[dict[str, Any]]:
    rows = [
        json.loads(x) for x in (root / "contoso_hr_benefits" / "ground_truth.jsonl").read_text().splitlines()
    ]
    return [{"question": r["question"], "answer": r["truth"]} for r in rows[first : first + n]]


def _hetpqa_dev(root: Path) -> tuple[list[dict[str, str]], dict[str, list[str]], set[str]]:
    """(answer-generation dev rows, snippets of the retrieval corpus per product, evaluated questions)."""
    with open(root / "hetpqa_retail" / "hetPQA" / "answer_generation" / "dev.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    by_asin: dict[str, list[str]] = {}
    for line in HETPQA_CORPUS.read_text("utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            by_asin.setdefault(record["metadata"]["asin"], []).append(record["text"].strip())
    evaluated = {json.loads(x)["question"] for x in HETPQA_QA.read_text("utf-8").splitlines() if x.strip()}
    return rows, by_asin, evaluated


def hetpqa_dev(root: Path, n: int = 20) -> list[dict[str, Any]]:
    rows, by_asin, evaluated = _hetpqa_dev(root)
    in_corpus = {asin: {t.lower() for t in texts} for asin, texts in by_asin.items()}
    usable = [
        r
        for r in rows
        if r["candidate"].strip().lower() in in_corpus.get(r["ASIN"], set())
        and r["question"] not in evaluated
    ]
    rng = random.Random(SEED)
    picked = [usable[i] for i in sorted(rng.sample(range(len(usable)), n))]
    asins = sorted(in_corpus)
    out = [
        {
            "question": r["question"],
            "answer": r["answer"],
            "metadata": {"asin": r["ASIN"]},
            "evidence": r["candidate"],
        }
        for r in picked
    ]
    for r in picked:  # the same question about another product: the sources cannot answer it
        other = rng.choice([a for a in asins if a != r["ASIN"]])
        out.append(
            {"question": r["question"], "answer": None, "answerable": False, "metadata": {"asin": other}}
        )
    return out


def docugami_dev(root: Path, n: int = 15) -> list[dict[str, Any]]:
    with open(root / "docugami_sec10q" / "qna_data.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    evaluated = {json.loads(x)["question"] for x in FINANCE_QA.read_text("utf-8").splitlines() if x.strip()}
    evaluated |= {
        json.loads(x)["question"]
        for x in (DATA / "contoso_20_plus_10_unanswerable.jsonl").read_text("utf-8").splitlines()
        if x.strip()
    }
    fresh = [r["Question"] for r in rows if r["Question"] not in evaluated]
    rng = random.Random(SEED)
    return [
        {"question": fresh[i], "answer": None, "answerable": False}
        for i in sorted(rng.sample(range(len(fresh)), n))
    ]


def prepare(shared: Path) -> dict[str, int]:
    root = _datasets_dir(shared)
    return {
        DEV_CONTOSO.name: _write(DEV_CONTOSO, contoso_dev(root)),
        DEV_HETPQA.name: _write(DEV_HETPQA, hetpqa_dev(root)),
        DEV_DOCUGAMI.name: _write(DEV_DOCUGAMI, docugami_dev(root)),
    }


# ---------------------------------------------------------------------------------------- replay
QUOTE_GRID = (None, 0.35, 0.4, 0.45, 0.5, 0.55)  # None: no quoted answers
COVERAGE_GRID = (0.0, 0.25, 0.5)


_VECTORS: dict[str, np.ndarray] = {}


def _cached(embed: Callable[[list[str]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """``embed`` with every text embedded once per process: replays repeat the same sentences."""

    def cached(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in _VECTORS]
        if missing:
            _VECTORS.update(zip(missing, embed(missing), strict=True))
        return np.stack([_VECTORS[t] for t in texts]) if texts else embed(texts)

    return cached


def replay_answers(
    reports: list[dict[str, Any]],
    answerer: Answerer,
    support: SupportConfig | None = None,
    quote: float | None = None,
    coverage: float | None = None,
    *,
    quotes: bool = True,
) -> dict[str, Any]:
    """Re-run checks, quotes and abstention on the stored traces with these settings (the
    answerer's own where not given; ``quotes=False``: no quoted answers)."""
    quoting = answerer.config.quote
    if quote is not None:
        quoting = replace(quoting, min_similarity=quote)
    if not quotes:
        quoting = replace(quoting, min_similarity=2.0)
    if coverage is not None:
        quoting = replace(quoting, min_coverage=coverage)
    config = replace(answerer.config, support=support or answerer.config.support, quote=quoting)
    base = Answerer(FixedHits([]), ReplayGenerator(""), config, embed=_cached(answerer.embed))
    rows = [
        (QAItem(row["question"], row["gold"]), replay(base, row, report.get("scenario", "employee")))
        for report in reports
        for row in report["per_question"]
    ]
    answerable = [a for i, a in rows if i.answer is not None]
    unanswerable = [a for i, a in rows if i.answer is None]
    shown = [ok for _, a in rows if not a.abstained for _, ok in _shown_checks(a)]
    return {
        "support": support,
        "quote": quote,
        "answerable": len(answerable),
        "false_abstention": sum(a.abstained for a in answerable) / len(answerable) if answerable else None,
        "quoted": sum(a.kind == "quoted" for _, a in rows),
        "unanswerable": len(unanswerable),
        "abstention_unanswerable": sum(a.abstained for a in unanswerable) / len(unanswerable)
        if unanswerable
        else None,
        "shown_cited_sentences": len(shown),
        "strict_supported": sum(shown) / len(shown) if shown else None,
    }


def quote_table(paths: list[Path]) -> str:
    """The quote thresholds (similarity × key-term coverage) on stored traces, support as configured."""
    from app.context import AppContext
    from core.settings import load_settings

    ctx = AppContext(load_settings())
    reports = [json.loads(p.read_text("utf-8")) for p in paths]
    lines = [
        "| quote ≥ (key-term coverage ≥) | false abstention (answerable) | quoted answers "
        "| abstention (unanswerable) |",
        "|---|---|---|---|",
    ]
    runs: list[tuple[float | None, float | None]] = [(None, None)]
    runs += [(q, c) for q in QUOTE_GRID if q for c in COVERAGE_GRID]
    for quote, coverage in runs:
        r = replay_answers(reports, ctx.answerer, None, quote, coverage, quotes=quote is not None)
        label = f"{quote} ({coverage})" if quote is not None else "off (no quoted answers)"
        lines.append(
            f"| {label} | {_pct(r['false_abstention'])} ({r['answerable']}) | {r['quoted']} "
            f"| {_pct(r['abstention_unanswerable'])} ({r['unanswerable']}) |"
        )
        print(lines[-1], flush=True)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- pairs
_GOLD_CITE = re.compile(r"\[([^\]]+?\.pdf)#page=(\d+)\]")


def contoso_pairs(
    ctx: Any, root: Path, kb: str = "contoso", first: int = 20, n: int = 100
) -> list[tuple[str, str, bool]]:
    """(claim, passage, supports?) from Contoso ground truth 21-120: each answer sentence against its
    gold page, and against the best-ranked page of the base that is not a gold page."""
    from sqlalchemy import select

    from core.db import ChunkRow, DocumentRow, KnowledgeBase
    from generation.sentences import split_sentences

    rows = [
        json.loads(x) for x in (root / "contoso_hr_benefits" / "ground_truth.jsonl").read_text().splitlines()
    ]
    with ctx.db.session() as session:
        chunks = session.execute(
            select(DocumentRow.source, ChunkRow.page, ChunkRow.text)
            .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
            .join(KnowledgeBase, KnowledgeBase.id == DocumentRow.kb_id)
            .where(KnowledgeBase.name == kb)
        ).all()
    pages: dict[tuple[str, int], str] = {}
    for source, page, text in chunks:
        key = (Path(source).name, page or 0)
        pages[key] = pages.get(key, "") + "\n" + text
    keys = list(pages)
    vectors = ctx.embedder.embed([pages[k][:2000] for k in keys])
    out: list[tuple[str, str, bool]] = []
    for row in rows[first : first + n]:
        gold = {(f, int(p)) for f, p in _GOLD_CITE.findall(row["truth"])}
        if not gold or not gold <= set(pages):
            continue
        question = ctx.embedder.embed([row["question"]])[0]
        ranked = [keys[i] for i in np.argsort(-(vectors @ question))]
        negative = next(k for k in ranked if k not in gold)
        passage = "\n".join(pages[k] for k in sorted(gold))
        for claim in split_sentences(_GOLD_CITE.sub("", row["truth"])):
            if len(claim.split()) >= 5:
                out += [(claim, passage, True), (claim, pages[negative], False)]
    return out


def hetpqa_pairs(ctx: Any, root: Path, n: int = 150) -> list[tuple[str, str, bool]]:
    """(claim, passage, supports?) from hetPQA answer-generation dev rows not evaluated: the
    human answer against its evidence snippet, and against the other snippet of the same product
    closest to it (a hard negative; it may happen to support the answer too)."""
    rows, by_asin, evaluated = _hetpqa_dev(root)
    usable = [r for r in rows if r["question"] not in evaluated and len(by_asin.get(r["ASIN"], [])) > 1
              and r["candidate"].strip().lower() in {t.lower() for t in by_asin[r["ASIN"]]}]  # fmt: skip
    picked = [usable[i] for i in sorted(random.Random(SEED).sample(range(len(usable)), min(n, len(usable))))]
    out: list[tuple[str, str, bool]] = []
    for r in picked:
        others = [t for t in by_asin[r["ASIN"]] if t.lower() != r["candidate"].strip().lower()]
        vectors = ctx.embedder.embed([r["answer"], *others])
        negative = others[int(np.argmax(vectors[1:] @ vectors[0]))]
        out += [(r["answer"], r["candidate"], True), (r["answer"], negative, False)]
    return out


SUPPORT_ROWS: tuple[tuple[str, SupportConfig], ...] = (
    ("key terms ≥ 50 % anywhere in the passage (the earlier checker)", SupportConfig(min_similarity=None, window=None)),
    ("key terms ≥ 50 % within 3 sentences", SupportConfig(min_similarity=None)),
    ("key terms ≥ 60 % within 3 sentences", SupportConfig(min_overlap=0.6, min_similarity=None)),
    ("key terms ≥ 70 % within 3 sentences", SupportConfig(min_overlap=0.7, min_similarity=None)),
    *(
        (f"key terms ≥ 50 % within 3 sentences, or cosine ≥ {t}", SupportConfig(min_similarity=t))
        for t in (0.6, 0.65, 0.7, 0.75, 0.8)
    ),
    *(
        (f"key terms ≥ 60 % within 3 sentences, or cosine ≥ {t}", SupportConfig(min_overlap=0.6, min_similarity=t))
        for t in (0.65, 0.7, 0.75)
    ),
    *(
        (f"key terms ≥ 70 % within 3 sentences, or cosine ≥ {t}", SupportConfig(min_overlap=0.7, min_similarity=t))
        for t in (0.7, 0.75, 0.8)
    ),
)  # fmt: skip


def pair_scores(
    rows: list[tuple[str, str, bool]], checker: SupportChecker, embed: Callable[[list[str]], np.ndarray]
) -> tuple[float | None, float | None]:
    """(precision, recall) of "supported" on labelled (claim, passage, supports?) pairs."""
    said = []
    for claim, passage, label in rows:
        [hit] = hits_from_trace({"hits": [{"document_id": "d", "source": "s", "title": "", "page": None,
                                           "heading_path": [], "dense_score": None, "sparse_score": None,
                                           "text": passage}]})  # fmt: skip
        vector = embed([claim])[0] if checker.config.min_similarity is not None else None
        said.append((checker.supports(claim, [1], Evidence([hit], embed), vector)[0], label))
    tp = sum(ok and label for ok, label in said)
    predicted = sum(ok for ok, _ in said)
    positives = sum(label for _, label in said)
    return (tp / predicted if predicted else None), (tp / positives if positives else None)


def calibration_table(ctx: Any, pairs: dict[str, list[tuple[str, str, bool]]], traces: list[Path]) -> str:
    """Each support rule: precision and recall of "supported" on the labelled pairs, and false
    abstention / abstention on unanswerable questions when the dev traces are replayed with it."""
    embed = _cached(ctx.embedder.embed)
    reports = [json.loads(p.read_text("utf-8")) for p in traces]
    lines = [
        "| support rule | "
        + " | ".join(f"{name} pairs: precision / recall ({len(rows)})" for name, rows in pairs.items())
        + " | dev false abstention | dev abstention (unanswerable) | cited sentences shown |",
        "|---|" + "---|" * (len(pairs) + 3),
    ]
    for label, config in SUPPORT_ROWS:
        checker = SupportChecker(config, embed)
        cells = []
        for rows in pairs.values():
            precision, recall = pair_scores(rows, checker, embed)
            cells.append(f"{_pct(precision)} / {_pct(recall)}")
        r = replay_answers(reports, ctx.answerer, config) if reports else {}
        lines.append(
            f"| {label} | "
            + " | ".join(cells)
            + f" | {_pct(r.get('false_abstention'))} ({r.get('answerable')}) "
            f"| {_pct(r.get('abstention_unanswerable'))} ({r.get('unanswerable')}) | {r.get('shown_cited_sentences')} |"
        )
        print(lines[-1], flush=True)
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    prep = sub.add_parser("prepare", help="write the dev Q&A files under benchmarks/data")
    prep.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    cal = sub.add_parser("calibrate", help="support rules → pair precision/recall and dev false abstention")
    cal.add_argument("traces", nargs="*", type=Path, help="`kb eval answers --out` files of the dev sets")
    cal.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    cal.add_argument("--kb", default="contoso", help="the knowledge base holding the Contoso documents")
    quotes = sub.add_parser("quotes", help="quote thresholds → false abstention and abstention (dev traces)")
    quotes.add_argument("traces", nargs="+", type=Path)
    args = parser.parse_args()
    if args.cmd == "prepare":
        for name, count in prepare(args.shared).items():
            print(f"{name}: {count} questions")
    elif args.cmd == "calibrate":
        from app.context import AppContext
        from core.settings import load_settings

        ctx = AppContext(load_settings())
        root = _datasets_dir(args.shared)
        labelled = {"Contoso": contoso_pairs(ctx, root, args.kb), "hetPQA": hetpqa_pairs(ctx, root)}
        print(calibration_table(ctx, labelled, args.traces))
    else:
        print(quote_table(args.traces))


if __name__ == "__main__":
    main()
