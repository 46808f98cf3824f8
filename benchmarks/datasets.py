"""Retrieval evaluation sets (Contoso HR, TAT-QA, hetPQA retail) described in one shape.

Usage: .venv/bin/python -m benchmarks.datasets [--shared DIR]
(Re)generates the derived inputs under benchmarks/data (TAT-QA 300-query sample, hetPQA BEIR files)
and prints their counts.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from retrieval.metrics import read_qrels, read_queries

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / "data"
DEFAULT_SHARED = REPO.parent / "shared" / "datasets"

TATQA_SAMPLE = DATA / "tatqa_dev_300.queries.jsonl"
TATQA_SAMPLE_SIZE = 300
TATQA_SAMPLE_SEED = 0
HETPQA_CORPUS = DATA / "hetpqa_corpus.jsonl"
HETPQA_QUERIES = DATA / "hetpqa_queries.jsonl"
HETPQA_QRELS = DATA / "hetpqa_qrels.tsv"

Unit = Literal["doc", "page", "chunk"]


@dataclass(frozen=True)
class EvalSet:
    """Documents, BEIR queries and qrels, and the unit that qrels' corpus-ids name.

    ``unit``: "page" ids are ``file.pdf#page=N`` (1-based; a file without pages is its bare name),
    "doc" ids are the corpus ``_id``, "chunk" ids are chunk ids. ``query_filter`` names a key of each
    query's ``metadata`` whose value must restrict retrieval (``{key: value}`` metadata filter).
    """

    name: str
    docs_paths: list[Path]
    queries: Path
    qrels: Path
    unit: Unit
    description: str
    query_filter: str | None = field(default=None)


def read_query_metadata(path: Path) -> dict[str, dict[str, Any]]:
    """BEIR queries.jsonl → {query id: its ``metadata`` dict (empty when absent)}."""
    out: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                out[str(record["_id"])] = dict(record.get("metadata") or {})
    return out


def _datasets_dir(shared: Path) -> Path:
    """Accept either …/shared/datasets or …/shared."""
    return shared / "datasets" if (shared / "datasets").is_dir() else shared


def eval_sets(shared: Path = DEFAULT_SHARED, *, full_tatqa: bool = False) -> dict[str, EvalSet]:
    """The three retrieval sets under ``shared`` (…/shared/datasets); generates missing derived files.

    Example: ``eval_sets(Path("/work/shared/datasets"))["tatqa"].queries``.
    """
    root = _datasets_dir(shared)
    contoso = root / "contoso_hr_benefits"
    tatqa = root / "tatqa_dev" / "derived_beir_dev"
    if not (TATQA_SAMPLE.exists() and HETPQA_CORPUS.exists() and HETPQA_QUERIES.exists()):
        generate(root)
    return {
        "contoso": EvalSet(
            name="contoso",
            docs_paths=[contoso / "docs"],
            queries=contoso / "derived" / "queries.jsonl",
            qrels=contoso / "derived" / "qrels_page_level.tsv",
            unit="page",
            description=(
                "Contoso/Northwind HR & benefits: 8 PDFs (~270 pages) + Markdown/JSON; 250 LLM-drafted, "
                "Microsoft-curated questions; page-level qrels from the answers' citations "
                "(`file.pdf#page=N`, 1-based)."
            ),
        ),
        "tatqa": EvalSet(
            name="tatqa",
            docs_paths=[tatqa / "corpus.jsonl"],
            queries=tatqa / "queries.jsonl" if full_tatqa else TATQA_SAMPLE,
            qrels=tatqa / "qrels" / "test.tsv",
            unit="doc",
            description=(
                "TAT-QA dev (finance annual reports): 1,634 passages (tables as ' | ' rows, paragraphs); "
                + ("all 1,668 questions" if full_tatqa else "a seeded sample of 300 of the 1,668 questions")
                + "; open retrieval across all reports, harder than the original gold-context task."
            ),
        ),
        "hetpqa": EvalSet(
            name="hetpqa",
            docs_paths=[HETPQA_CORPUS],
            queries=HETPQA_QUERIES,
            qrels=HETPQA_QRELS,
            unit="doc",
            description=(
                "hetPQA evidence ranking dev (Amazon toys & games): unique evidence candidates "
                "(attribute, bullet, description, review, community QA, OSP) per product; questions with "
                "at least one positive. Questions are product-specific: each query's metadata.asin must "
                "filter retrieval to that product (metadata filter {'asin': ...}); candidates of other "
                "questions on the same product are unjudged (count as non-relevant)."
            ),
            query_filter="asin",
        ),
    }


def write_tatqa_sample(root: Path, out: Path = TATQA_SAMPLE) -> int:
    """Write a seeded, file-ordered sample of TAT-QA dev queries; returns the count written."""
    lines = [
        line
        for line in (root / "tatqa_dev" / "derived_beir_dev" / "queries.jsonl")
        .read_text("utf-8")
        .splitlines()
        if line.strip()
    ]
    picked = sorted(random.Random(TATQA_SAMPLE_SEED).sample(range(len(lines)), TATQA_SAMPLE_SIZE))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(lines[i] + "\n" for i in picked), encoding="utf-8")
    return len(picked)


def evidence_id(asin: str, text: str) -> str:
    """Stable corpus id of one product's evidence text: first 12 hex of sha1(asin + text)."""
    return hashlib.sha1(f"{asin}\n{text}".encode()).hexdigest()[:12]


def write_hetpqa(root: Path) -> dict[str, int]:
    """Build hetPQA BEIR corpus/queries/qrels from evidence_ranking/dev.csv; returns counts."""
    source_csv = root / "hetpqa_retail" / "hetPQA" / "evidence_ranking" / "dev.csv"
    with open(source_csv, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    corpus: dict[str, dict[str, Any]] = {}
    queries: dict[str, dict[str, Any]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for row in rows:
        asin, text = row["ASIN"], row["candidate"]
        doc_id = evidence_id(asin, text)
        record = corpus.setdefault(
            doc_id,
            {
                "_id": doc_id,
                "title": f"Product {asin}",
                "text": text,
                "metadata": {"asin": asin, "source": row["source"], "sources": []},
            },
        )
        # One text can be judged under two sources (e.g. Desc and bullet): `source` is the first seen.
        if row["source"] not in record["metadata"]["sources"]:
            record["metadata"]["sources"].append(row["source"])
        queries.setdefault(
            row["qid"], {"_id": row["qid"], "text": row["question"], "metadata": {"asin": asin}}
        )
        if int(row["label"]) > 0:
            qrels.setdefault(row["qid"], {})[doc_id] = int(row["label"])
    HETPQA_CORPUS.parent.mkdir(parents=True, exist_ok=True)
    with open(HETPQA_CORPUS, "w", encoding="utf-8") as handle:
        for record in corpus.values():
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with open(HETPQA_QUERIES, "w", encoding="utf-8") as handle:
        for qid, record in queries.items():
            if qid in qrels:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with open(HETPQA_QRELS, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["query-id", "corpus-id", "score"])
        for qid, judged in qrels.items():
            for doc_id, grade in judged.items():
                writer.writerow([qid, doc_id, grade])
    return {
        "rows": len(rows),
        "corpus": len(corpus),
        "queries": len(qrels),
        "queries_dropped_no_positive": len(queries) - len(qrels),
        "qrels": sum(len(j) for j in qrels.values()),
        "products": len({r["metadata"]["asin"] for r in corpus.values()}),
    }


def generate(shared: Path = DEFAULT_SHARED) -> dict[str, dict[str, int]]:
    """(Re)generate every derived file under benchmarks/data; returns counts per set."""
    root = _datasets_dir(shared)
    return {"tatqa_sample": {"queries": write_tatqa_sample(root)}, "hetpqa": write_hetpqa(root)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared datasets folder")
    args = parser.parse_args()
    for name, counts in generate(args.shared).items():
        print(f"{name}: " + ", ".join(f"{key} {value}" for key, value in counts.items()))
    for name, evalset in eval_sets(args.shared).items():
        queries, qrels = read_queries(evalset.queries), read_qrels(evalset.qrels)
        judged = sum(1 for q in queries if any(g > 0 for g in qrels.get(q, {}).values()))
        print(
            f"{name}: {len(queries)} queries ({judged} judged), unit {evalset.unit}, docs {evalset.docs_paths}"
        )


if __name__ == "__main__":
    main()
