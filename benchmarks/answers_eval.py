"""Q&A files for `kb eval answers` on the finance, TAT-QA and hetPQA sets, and a table of the results.

Usage:
  .venv/bin/python -m benchmarks.answers_eval prepare [--shared DIR]   # (re)writes benchmarks/data/*.jsonl
  .venv/bin/python -m benchmarks.answers_eval table benchmarks/results/answers_*.json

Files (seeded samples, so reruns ask the same questions):
- ``answers_finance_25_plus_30_nvda.jsonl``: 25 single-document Docugami 10-Q questions about Apple,
  Amazon, Intel and Microsoft (answers reviewed by Docugami; their "SOURCE(S):" line dropped) plus 30
  NVIDIA questions marked unanswerable: the finance knowledge base holds the 16 filings of the other four
  companies only, so the NVIDIA questions ask about documents it lacks (same domain, same vocabulary).
- ``answers_tatqa_dev_25.jsonl``: 25 TAT-QA dev questions from the 300-question retrieval sample, with
  the gold answer (spans or number, plus scale) as ``answer`` and ``answer_spans``, and their report's
  table and paragraphs as ``context`` (for ``--context gold``).
- ``answers_nvda_30_unanswerable.jsonl``: the same 30 NVIDIA questions alone, all unanswerable, for
  asking a knowledge base of another domain (Contoso HR): the easy, cross-domain unanswerable case.
- ``answers_hetpqa_25.jsonl``: 25 hetPQA answer-generation dev questions (human-written answers) whose
  evidence snippet is in ``hetpqa_corpus.jsonl`` under the same product; ``metadata.asin`` restricts
  retrieval to that product (``--filter-by asin``).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.datasets import DATA, DEFAULT_SHARED, HETPQA_CORPUS, TATQA_SAMPLE, _datasets_dir
from generation.evaluation import span_match

FINANCE_QA = DATA / "answers_finance_25_plus_30_nvda.jsonl"
TATQA_QA = DATA / "answers_tatqa_dev_25.jsonl"
HETPQA_QA = DATA / "answers_hetpqa_25.jsonl"
NVDA_QA = DATA / "answers_nvda_30_unanswerable.jsonl"
FINANCE_COMPANIES = ("AAPL", "AMZN", "INTC", "MSFT")
SEED = 0


def _write(path: Path, rows: list[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


def finance_rows(root: Path, answerable: int = 25, unanswerable: int = 30) -> list[dict[str, Any]]:
    with open(root / "docugami_sec10q" / "qna_data.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rng = random.Random(SEED)
    single = [
        r
        for r in rows
        if r["Question Type"].startswith("Single-Doc")
        and any(c in r["Source Docs"] for c in FINANCE_COMPANIES)
    ]
    nvda = [r for r in rows if "NVDA" in r["Source Docs"]]
    out = []
    for r in sorted(rng.sample(range(len(single)), answerable)):
        row = single[r]
        gold = re.split(r"\n\s*SOURCE\(S\):", row["Answer"])[0].strip()
        out.append(
            {
                "question": row["Question"],
                "answer": gold,
                "sources": [row["Source Docs"].strip("*") + ".pdf"],
                "metadata": {"type": row["Question Type"], "chunk": row["Source Chunk Type"]},
            }
        )
    for r in sorted(rng.sample(range(len(nvda)), min(unanswerable, len(nvda)))):
        out.append({"question": nvda[r]["Question"], "answer": None, "answerable": False})
    return out


def tatqa_rows(root: Path, n: int = 25) -> list[dict[str, Any]]:
    corpus = [
        json.loads(line)
        for line in (root / "tatqa_dev" / "derived_beir_dev" / "corpus.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    tables = {r["_id"][2:]: r["text"] for r in corpus if r["_id"].startswith("T_")}
    paragraphs: dict[str, list[str]] = defaultdict(list)
    for r in corpus:
        if r["_id"].startswith("P_"):
            paragraphs[r["metadata"]["table_uid"]].append(r["text"])
    queries = [json.loads(line) for line in TATQA_SAMPLE.read_text("utf-8").splitlines() if line.strip()]
    out = []
    for i in sorted(random.Random(SEED).sample(range(len(queries)), n)):
        q = queries[i]
        meta = q["metadata"]
        spans = [str(a) for a in (meta["answer"] if isinstance(meta["answer"], list) else [meta["answer"]])]
        gold = ", ".join(spans) + (f" {meta['scale']}" if meta.get("scale") else "")
        uid = meta["table_uid"]
        out.append(
            {
                "question": q["text"],
                "answer": gold,
                "answer_spans": spans,
                "metadata": {k: meta[k] for k in ("answer_type", "answer_from", "scale", "derivation")},
                "context": [{"title": "table", "text": tables[uid]}]
                + [{"title": f"paragraph {k}", "text": p} for k, p in enumerate(paragraphs[uid], 1)],
            }
        )
    return out


def hetpqa_rows(root: Path, n: int = 25) -> list[dict[str, Any]]:
    with open(
        root / "hetpqa_retail" / "hetPQA" / "answer_generation" / "dev.csv", encoding="utf-8", newline=""
    ) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    by_asin: dict[str, set[str]] = defaultdict(set)
    for line in HETPQA_CORPUS.read_text("utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            by_asin[record["metadata"]["asin"]].add(record["text"].strip().lower())
    usable = [r for r in rows if r["candidate"].strip().lower() in by_asin[r["ASIN"]]]
    out = []
    for i in sorted(random.Random(SEED).sample(range(len(usable)), n)):
        r = usable[i]
        out.append(
            {
                "question": r["question"],
                "answer": r["answer"],
                "metadata": {"asin": r["ASIN"], "evidence_source": r["source"]},
            }
        )
    return out


def prepare(shared: Path) -> dict[str, int]:
    root = _datasets_dir(shared)
    return {
        FINANCE_QA.name: _write(FINANCE_QA, finance_rows(root)),
        TATQA_QA.name: _write(TATQA_QA, tatqa_rows(root)),
        HETPQA_QA.name: _write(HETPQA_QA, hetpqa_rows(root)),
        NVDA_QA.name: _write(NVDA_QA, [r for r in finance_rows(root) if r["answer"] is None]),
    }


_AMOUNT = re.compile(
    r"\$\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s?(?:%|percent|per cent|million|billion|thousand)", re.I
)


def gold_figures(report: dict[str, Any]) -> tuple[int, int]:
    """(answers stating at least one of the gold answer's amounts, answerable questions whose gold
    answer has one). An amount is a number written with "$", "%" or a scale word ("4,109 million"), so
    "IDM 2.0" or "10-Q" are not amounts. Abstentions count as misses, and so does an amount given in
    another scale ("$39.7 billion" for "$39,669 million"): a lower bound on stating the right figure."""
    hit = total = 0
    for row in report["per_question"]:
        if not row["answerable"] or not row.get("gold"):
            continue
        figures = [a or b for a, b in _AMOUNT.findall(row["gold"])]
        if not figures:
            continue
        total += 1
        stated = [a or b for a, b in _AMOUNT.findall(row["answer"])] if not row["abstained"] else []
        hit += int(any(span_match(" ".join(stated), [f]) for f in figures) if stated else 0)
    return hit, total


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def table(paths: list[Path]) -> str:
    """One Markdown row per results file."""
    lines = [
        "| run | questions (answerable / unanswerable) | generated / quoted / abstained | token-F1 "
        "| embedding sim. | short-answer match | answers stating a gold figure "
        "| phantom citations shown (removed) | supported cited sentences "
        "| numbers not in cited passages (flagged) | abstention (unanswerable) | false abstention |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        r = json.loads(path.read_text("utf-8"))
        span = (
            f"{_pct(r['span_match_rate'])} ({round(r['span_match_rate'] * r['span_questions'])}/"
            f"{r['span_questions']})"
            if r.get("span_match_rate") is not None
            else "–"
        )
        supported = r.get("supported_cited_sentence_rate")
        sup = (
            f"{_pct(supported)} ({round(supported * r['cited_sentences'])}/{r['cited_sentences']})"
            if supported is not None
            else "–"
        )
        nums = (  # absent from reports written before the number check existed
            f"{r['numbers_not_in_cited_sources']}/{r['numbers_stated']}"
            + (
                f" ({_pct(r.get('unverified_numbers_flagged_rate'))} flagged)"
                if r["numbers_not_in_cited_sources"]
                else ""
            )
            if r.get("numbers_stated")
            else "–"
        )
        unans = (
            f"{_pct(r['abstention_rate_unanswerable'])} "
            f"({round(r['abstention_rate_unanswerable'] * r['unanswerable'])}/{r['unanswerable']})"
            if r["unanswerable"]
            else "–"
        )
        false_abs = (
            f"{_pct(r['false_abstention_rate'])} "
            f"({round(r['false_abstention_rate'] * r['answerable'])}/{r['answerable']})"
            if r["answerable"]
            else "–"
        )
        fig_hit, fig_total = gold_figures(r) if "gold" in r["per_question"][0] else (0, 0)
        figures = f"{_pct(fig_hit / fig_total)} ({fig_hit}/{fig_total})" if fig_total else "–"
        f1 = "–" if r["token_f1"] is None else f"{r['token_f1']:.3f}"
        sim = "–" if r["embedding_similarity"] is None else f"{r['embedding_similarity']:.3f}"
        kinds = (  # absent from reports written before quoted answers existed
            f"{r['answers_generated']} / {r['answers_quoted']} / {r['answers_abstained']}"
            if "answers_quoted" in r
            else "–"
        )
        lines.append(
            f"| {path.stem} | {r['questions']} ({r['answerable']} / {r['unanswerable']}) | {kinds} | {f1} | {sim} "
            f"| {span} | {figures} | {r['phantom_citations_shown']} ({r['phantom_citations_removed']}) | {sup} | {nums} "
            f"| {unans} | {false_abs} |"
        )
    return "\n".join(lines)


LATENCY_KEYS = (
    "first_token_ms_p50", "first_token_ms_p95", "first_shown_ms_p50", "first_shown_ms_p95",
    "first_token_cpu_ms_p50", "first_shown_cpu_ms_p50", "prompt_tokens_p50", "total_ms_p50", "tokens_per_s_mean",
)  # fmt: skip


def replay_report(report_path: Path, qa_path: Path) -> dict[str, Any]:
    """A `kb eval answers --out` report recomputed with today's checks, quotes and abstention on its
    stored traces (same passages, same model text; the model is not run). Times are the run's own."""
    from app.context import AppContext
    from core.settings import load_settings
    from generation.evaluation import evaluate_answers, read_qa
    from generation.replay import replay

    ctx = AppContext(load_settings())
    report = json.loads(report_path.read_text("utf-8"))
    rows = iter(report["per_question"])
    items = read_qa(qa_path)[: len(report["per_question"])]

    def ask_item(item: Any) -> Any:
        row = next(rows)
        if row["question"] != item.question:
            raise ValueError(f"{report_path} does not follow {qa_path}: {row['question']!r}")
        return replay(ctx.answerer, row, report["scenario"])

    again = evaluate_answers(items, ask_item=ask_item, embed=ctx.embedder.embed)
    head = {k: report[k] for k in ("kb", "scenario", "context", "filter_by") if k in report}
    times = {k: report.get(k) for k in LATENCY_KEYS}
    return {**head, "replayed_from": report_path.name, **again, **times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    prep = sub.add_parser("prepare", help="write the Q&A files under benchmarks/data")
    prep.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    tab = sub.add_parser("table", help="Markdown table of `kb eval answers --out` files")
    tab.add_argument("results", nargs="+", type=Path)
    rep = sub.add_parser("replay", help="recompute a `kb eval answers --out` report with today's checks")
    rep.add_argument("report", type=Path)
    rep.add_argument("--qa", type=Path, required=True, help="the Q&A file the report was made from")
    rep.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.cmd == "prepare":
        for name, count in prepare(args.shared).items():
            print(f"{name}: {count} questions")
    elif args.cmd == "replay":
        result = replay_report(args.report, args.qa)
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(table([args.out]))
    else:
        print(table(args.results))


if __name__ == "__main__":
    main()
