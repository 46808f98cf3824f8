"""Page-level qrels for the Docugami SEC 10-Q questions, derived from their reviewed answers.

Usage: .venv/bin/python -m benchmarks.sec10q [--shared DIR] [--show N]

Docugami gives each question's gold evidence as a file glob (``*2023 Q3 AAPL*``, ``*AAPL*``) and a
human-reviewed answer. Page judgements are derived from the answer, only inside the gold files:

1. Figures. Every amount in the answer with at least three digits written with a thousands
   separator or a decimal point ("40,665", "$25.7 billion", "15.7%"; years, dates and two-digit
   numbers are too common to count) is looked up on each page of the gold files; a line of the
   answer that names a file ("(2023 Q1 AAPL.pdf)") is matched in that file only. "102,673,000" also
   matches "102,673" (tables in thousands). A page holding at least half of the answer's figures
   found in its file is graded 2, a page holding fewer is graded 1.
2. Wording, when no figure of the answer is on any gold page (descriptive answers). The answer's
   distinct content-word pairs (stop words, company names and form words removed) are compared with
   each page's; pages sharing at least 20 % of them and at least half the best page's share are
   graded 1, at most three pages per gold file.

Questions with no judged page are dropped and counted. ``--show N`` prints N questions with their
pages and the matched figures or pairs, for checking by hand.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / "data"
DEFAULT_SHARED = REPO.parent / "shared" / "datasets"
SEC10Q_QUERIES = DATA / "sec10q_queries.jsonl"
SEC10Q_QRELS = DATA / "sec10q_qrels_page.tsv"

_FIGURE = re.compile(r"(?<![\d,.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)(?![\d]|,\d|\.\d)")
_FILE = re.compile(r"(20\d\d Q[1-4] [A-Z]{2,5})(?:\.pdf)?")
_SOURCE_LINE = re.compile(r"^\s*SOURCE\(?S?\)?:.*$", re.I | re.M)
_WORD = re.compile(r"[a-z][a-z'-]+")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "by",
        "with",
        "from",
        "as",
        "at",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "their",
        "which",
        "what",
        "how",
        "has",
        "have",
        "had",
        "not",
        "no",
        "any",
        "also",
        "such",
        "than",
        "then",
        "there",
        "over",
        "into",
        "during",
        "company",
        "company's",
        "quarter",
        "quarters",
        "period",
        "periods",
        "reported",
        "report",
        "reports",
        "document",
        "documents",
        "provided",
        "10-q",
        "10-qs",
        "fiscal",
        "year",
        "ended",
        "months",
        "three",
        "six",
        "nine",
        "million",
        "billion",
        "based",
        "information",
        "apple",
        "microsoft",
        "amazon",
        "intel",
        "nvidia",
        "inc",
        "corporation",
    ]
)
MIN_PAIR_SHARE = 0.2
MAX_TEXT_PAGES = 3


def pdf_pages(path: Path) -> list[str]:
    """Text of each page (pdfium, the parser that opens all 20 filings)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return pages
    finally:
        pdf.close()


def _figures(text: str) -> set[str]:
    found: set[str] = set()
    for raw in _FIGURE.findall(text):
        digits = raw.replace(",", "").replace(".", "")
        if len(digits) < 3:
            continue
        found.add(raw)
        while raw.endswith(",000") and raw.count(",") > 1:  # 102,673,000 shares: 102,673 in thousands
            raw = raw[:-4]
            found.add(raw)
    return found


def _on_page(figure: str, page: str) -> bool:
    return re.search(rf"(?<![\d,.]){re.escape(figure)}(?![\d]|,\d|\.\d)", page) is not None


def _pairs(text: str) -> set[tuple[str, str]]:
    words = [w for w in _WORD.findall(text.lower().replace("’", "'")) if w not in _STOP]
    return set(zip(words, words[1:], strict=False))


def _answer_lines(answer: str) -> list[str]:
    return [line for line in _SOURCE_LINE.sub("", answer).splitlines() if line.strip()]


def judge(answer: str, gold: dict[str, list[str]]) -> tuple[dict[str, int], dict[str, Any]]:
    """({"file.pdf#page=N": grade}, evidence) for one answer over its gold files' page texts."""
    per_file: dict[str, set[str]] = {name: set() for name in gold}
    for line in _answer_lines(answer):
        named = [f"{m}.pdf" for m in _FILE.findall(line) if f"{m}.pdf" in gold]
        for name in named or gold:
            per_file[name] |= _figures(line)
    grades: dict[str, int] = {}
    evidence: dict[str, Any] = {}
    for name, figures in per_file.items():
        hits = {i: {f for f in figures if _on_page(f, p)} for i, p in enumerate(gold[name], start=1)}
        found = set().union(*hits.values()) if hits else set()
        for page, matched in hits.items():
            if matched:
                grades[f"{name}#page={page}"] = 2 if len(matched) * 2 >= max(1, len(found)) else 1
                evidence[f"{name}#page={page}"] = sorted(matched)
    if grades:
        return grades, evidence
    wanted = _pairs(" ".join(_answer_lines(answer)))
    if not wanted:
        return {}, {}
    scored = [
        (len(wanted & _pairs(text)) / len(wanted), name, page)
        for name, pages in gold.items()
        for page, text in enumerate(pages, start=1)
    ]
    best = max((s for s, _, _ in scored), default=0.0)
    for name in gold:
        mine = sorted(((s, p) for s, n, p in scored if n == name), reverse=True)[:MAX_TEXT_PAGES]
        for share, page in mine:
            if share >= MIN_PAIR_SHARE and share >= best / 2:
                grades[f"{name}#page={page}"] = 1
                evidence[f"{name}#page={page}"] = f"{share:.0%} of word pairs"
    return grades, evidence


def build(shared: Path = DEFAULT_SHARED, show: int = 0) -> dict[str, int]:
    """Write SEC10Q_QUERIES and SEC10Q_QRELS; returns counts."""
    root = shared / "datasets" if (shared / "datasets").is_dir() else shared
    folder = root / "docugami_sec10q"
    pages = {p.name: pdf_pages(p) for p in sorted((folder / "docs").glob("*.pdf"))}
    with open(folder / "qna_data.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    queries: list[dict[str, Any]] = []
    qrels: list[tuple[str, str, int]] = []
    dropped = 0
    for number, row in enumerate(rows, start=1):
        pattern = row["Source Docs"].strip()
        gold = {name: texts for name, texts in pages.items() if fnmatch.fnmatch(name, pattern)}
        grades, evidence = judge(row["Answer"], gold)
        if not grades:
            dropped += 1
            continue
        qid = f"q{number:03d}"
        meta = {"source_docs": pattern, "type": row["Question Type"], "chunk_type": row["Source Chunk Type"]}
        queries.append({"_id": qid, "text": row["Question"].strip(), "metadata": meta})
        qrels += [(qid, key, grade) for key, grade in sorted(grades.items())]
        if show and len(queries) <= show:
            print(f"{qid} {row['Question'].strip()} [{pattern}]")
            for key, why in sorted(evidence.items()):
                print(f"    {key} grade {grades[key]}: {why}")
    DATA.mkdir(parents=True, exist_ok=True)
    with open(SEC10Q_QUERIES, "w", encoding="utf-8") as handle:
        for record in queries:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with open(SEC10Q_QRELS, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["query-id", "corpus-id", "score"])
        writer.writerows(qrels)
    return {"questions": len(rows), "judged": len(queries), "dropped": dropped, "qrels": len(qrels)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--show", type=int, default=0, help="print N questions with their evidence")
    args = parser.parse_args()
    print(json.dumps(build(args.shared, args.show)))


if __name__ == "__main__":
    main()
