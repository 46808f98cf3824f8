"""Merge ``kb eval answers --out`` reports of parts of one question set (run side by side on a shared
machine) into the figures of the whole: short-answer span match, false abstention, abstention on
unanswerable questions, the answer kinds, the share of answers in the question's language, and for
Chinese gold answers the share of the gold's characters the answer holds in order (longest common
subsequence; a generated sentence that says "蓝线裸顶鲷的俗名是龙尖" holds all of "俗名龙尖", which
a strict span match misses because of the 是 in between).

Usage: ``python -m benchmarks.merge_answer_reports REPORT.json … [--out merged.json]``
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from core.text_match import compact, language_of


def char_recall(answer: str, gold: str) -> float:
    """Share of ``gold``'s letters and digits found in ``answer`` in order (LCS / len(gold))."""
    a, g = compact(answer), compact(gold)
    if not g:
        return 0.0
    previous = [0] * (len(g) + 1)
    for ch in a:
        current = [0]
        for j, gc in enumerate(g, 1):
            current.append(previous[j - 1] + 1 if ch == gc else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1] / len(g)


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole set's figures from its parts' per-question rows."""
    rows = [row for report in reports for row in report["per_question"]]
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    spans = [r["span_match"] for r in answerable if "span_match" in r]
    shown = [r for r in rows if not r["abstained"]]
    same_language = [language_of(r["answer"]) == language_of(r["question"]) for r in rows]
    totals = [r["timings"]["total_ms"] for r in rows if r.get("timings", {}).get("total_ms")]
    recalls = [0.0 if r["abstained"] else char_recall(r["answer"], r["gold"] or "") for r in answerable]

    def rate(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "span_match_rate": rate(spans),
        "span_questions": len(spans),
        "gold_char_recall_mean": round(float(np.mean(recalls)), 4) if recalls else None,
        "gold_char_recall_at_least_0.8": rate([x >= 0.8 for x in recalls]),
        "false_abstention_rate": rate([r["abstained"] for r in answerable]),
        "abstention_rate_unanswerable": rate([r["abstained"] for r in unanswerable]),
        "kinds": dict(Counter(r.get("kind", "") for r in rows)),
        "answers_shown": len(shown),
        "answer_in_question_language_rate": rate(same_language),
        "total_ms_p50": round(float(np.median(totals)), 1) if totals else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    merged = merge([json.loads(p.read_text(encoding="utf-8")) for p in args.reports])
    text = json.dumps(merged, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
