"""Ranking metrics on hand-computed cases, BEIR readers, and the benchmark evaluation sets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from retrieval.metrics import (
    dedupe_keys,
    mrr_at,
    ndcg_at,
    read_qrels,
    read_queries,
    recall_at,
    summarize,
)

SHARED_DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def test_ndcg_binary_hand_computed() -> None:
    # Relevant a, c at ranks 1 and 3: DCG = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3).
    relevant = {"a": 1, "c": 1}
    assert ndcg_at(["a", "b", "c"], relevant) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at(["a", "c", "b"], relevant) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], relevant) == 0.0


def test_ndcg_graded_hand_computed() -> None:
    # Grades a=2, b=1; ranking b, a: DCG = 1 + 3/log2(3); ideal = 3 + 1/log2(3).
    relevant = {"a": 2, "b": 1}
    expected = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert ndcg_at(["b", "a"], relevant) == pytest.approx(expected)
    assert ndcg_at(["a", "b"], relevant) == pytest.approx(1.0)


def test_ndcg_cutoff_and_no_positives() -> None:
    assert ndcg_at(["x", "a"], {"a": 1}, k=1) == 0.0
    assert ndcg_at(["a"], {"a": 0}) == 0.0
    assert ndcg_at([], {}) == 0.0


def test_recall_at() -> None:
    relevant = {"a": 1, "b": 1, "c": 0, "d": 2}
    assert recall_at(["a", "x", "d", "b"], relevant, 1) == pytest.approx(1 / 3)
    assert recall_at(["a", "x", "d", "b"], relevant, 3) == pytest.approx(2 / 3)
    assert recall_at(["a", "x", "d", "b"], relevant, 10) == pytest.approx(1.0)
    assert recall_at(["c"], relevant, 10) == 0.0
    assert recall_at(["a"], {"a": 0}, 10) == 0.0


def test_mrr_at() -> None:
    assert mrr_at(["x", "y", "a"], {"a": 1}) == pytest.approx(1 / 3)
    assert mrr_at(["a"], {"a": 1}) == 1.0
    assert mrr_at(["x", "a"], {"a": 1}, k=1) == 0.0
    assert mrr_at(["z", "a"], {"z": 0, "a": 1}) == pytest.approx(0.5)


def test_dedupe_keys_keeps_first_occurrence() -> None:
    assert dedupe_keys([["a"], ["b", "a"], ["c"], ["b"]]) == ["a", "b", "c"]
    assert dedupe_keys([]) == []
    assert dedupe_keys([[], ["x"]]) == ["x"]


def test_summarize_ignores_queries_without_positives() -> None:
    rankings = {"q1": ["a", "b"], "q2": ["x", "c"], "q3": ["a"], "q4": ["z"]}
    qrels = {"q1": {"a": 1}, "q2": {"c": 1}, "q3": {"a": 0}}  # q3: only a 0 grade; q4: unjudged
    result = summarize(rankings, qrels)
    assert result["queries"] == 2
    assert result["mrr@10"] == pytest.approx((1 + 0.5) / 2)
    assert result["recall@10"] == pytest.approx(1.0)
    assert result["recall@50"] == pytest.approx(1.0)
    assert result["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2)


def test_summarize_without_judged_queries() -> None:
    result = summarize({"q": ["a"]}, {})
    assert result["queries"] == 0
    assert result["ndcg@10"] == 0.0


def test_read_qrels_with_and_without_header(tmp_path: Path) -> None:
    body = "q1\td1\t1\nq1\td2\t2\nq2\td3\t0\n"
    with_header = tmp_path / "h.tsv"
    with_header.write_text("query-id\tcorpus-id\tscore\n" + body)
    without_header = tmp_path / "n.tsv"
    without_header.write_text(body + "\nshort\trow\n")
    expected = {"q1": {"d1": 1, "d2": 2}, "q2": {"d3": 0}}
    assert read_qrels(with_header) == expected
    assert read_qrels(without_header) == expected


def test_read_qrels_float_scores_and_spaces_in_ids(tmp_path: Path) -> None:
    path = tmp_path / "q.tsv"
    path.write_text("q1\tFinancial Report 2023.pdf#page=8\t1.0\n")
    assert read_qrels(path) == {"q1": {"Financial Report 2023.pdf#page=8": 1}}


def test_read_queries(tmp_path: Path) -> None:
    path = tmp_path / "queries.jsonl"
    records = [{"_id": 7, "text": "how many pieces?", "metadata": {"asin": "B0"}}, {"_id": "q2", "text": "x"}]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    assert read_queries(path) == {"7": "how many pieces?", "q2": "x"}


@pytest.fixture(scope="module")
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


def test_eval_sets_finds_the_three_sets(shared_datasets: Path) -> None:
    from benchmarks.datasets import eval_sets

    sets = eval_sets(shared_datasets)
    assert set(sets) == {"contoso", "tatqa", "hetpqa"}
    for evalset in sets.values():
        assert all(p.exists() for p in evalset.docs_paths), evalset.name
        assert evalset.queries.is_file() and evalset.qrels.is_file(), evalset.name
    assert sets["contoso"].unit == "page"
    assert sets["tatqa"].unit == sets["hetpqa"].unit == "doc"
    assert sets["hetpqa"].query_filter == "asin"
    assert len(read_queries(sets["tatqa"].queries)) == 300
    assert len(read_queries(eval_sets(shared_datasets, full_tatqa=True)["tatqa"].queries)) == 1668


def test_tatqa_sample_is_judged(shared_datasets: Path) -> None:
    from benchmarks.datasets import eval_sets

    tatqa = eval_sets(shared_datasets)["tatqa"]
    qrels = read_qrels(tatqa.qrels)
    assert all(any(g > 0 for g in qrels.get(q, {}).values()) for q in read_queries(tatqa.queries))


def test_hetpqa_files_are_consistent(shared_datasets: Path) -> None:
    from benchmarks.datasets import eval_sets, read_query_metadata

    hetpqa = eval_sets(shared_datasets)["hetpqa"]
    corpus: dict[str, dict[str, str]] = {}
    with open(hetpqa.docs_paths[0], encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            corpus[record["_id"]] = record["metadata"]
    queries = read_queries(hetpqa.queries)
    metadata = read_query_metadata(hetpqa.queries)
    qrels = read_qrels(hetpqa.qrels)
    assert queries and corpus
    assert all(doc_id in corpus for judged in qrels.values() for doc_id in judged)
    assert all(any(g > 0 for g in qrels.get(q, {}).values()) for q in queries)
    # A positive is evidence about the asked-about product, so an ASIN filter cannot hide it.
    assert all(corpus[d]["asin"] == metadata[q]["asin"] for q in queries for d in qrels[q])
