"""Chinese and cross-lingual retrieval sets, next to the English ones of ``benchmarks.datasets``.

- ``cmrc``: CMRC 2018 trial (CC BY-SA 4.0): 256 Chinese Wikipedia paragraphs, 1,002 questions, each
  judged against its own paragraph; open retrieval over all paragraphs.
- ``xling-en``: 49 CMRC questions in English (bundled 1.5B LLM, checked by hand) over the Chinese
  paragraphs.
- ``xling-zh``: 50 Contoso HR questions in Chinese (same way) over the English PDFs, page-level qrels.
How the translated files were made: benchmarks/data/crosslingual.md.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.datasets import DATA, DEFAULT_SHARED, EvalSet, _datasets_dir, eval_sets

XLING_EN_QUERIES = DATA / "xling_cmrc_en.queries.jsonl"
XLING_ZH_QUERIES = DATA / "xling_contoso_zh.queries.jsonl"


def multilingual_sets(shared: Path = DEFAULT_SHARED) -> dict[str, EvalSet]:
    """Every retrieval set: the English dev sets, CMRC and the two cross-lingual sets."""
    root = _datasets_dir(shared)
    cmrc = root / "cmrc2018_trial_zh"
    english = eval_sets(shared)
    contoso = english["contoso"]
    sets = dict(english)
    sets["cmrc"] = EvalSet(
        name="cmrc",
        docs_paths=[cmrc / "corpus.jsonl"],
        queries=cmrc / "queries.jsonl",
        qrels=cmrc / "qrels" / "test.tsv",
        unit="doc",
        description=(
            "CMRC 2018 trial (Chinese Wikipedia): 256 paragraphs, 1,002 questions, each judged against "
            "its paragraph; open retrieval over all paragraphs."
        ),
    )
    sets["xling-en"] = EvalSet(
        name="xling-en",
        docs_paths=sets["cmrc"].docs_paths,
        queries=XLING_EN_QUERIES,
        qrels=sets["cmrc"].qrels,
        unit="doc",
        description="49 CMRC questions translated to English, over the Chinese paragraphs.",
    )
    sets["xling-zh"] = EvalSet(
        name="xling-zh",
        docs_paths=contoso.docs_paths,
        queries=XLING_ZH_QUERIES,
        qrels=contoso.qrels,
        unit="page",
        description="50 Contoso HR questions translated to Chinese, over the English PDFs (page qrels).",
    )
    return sets
