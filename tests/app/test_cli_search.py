"""`kb search` and `kb eval retrieval` end to end with the real embedder on a small BEIR corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.test_cli_ingest import run_kb

pytestmark = pytest.mark.slow

CORPUS = [
    ("r1", "Returns", "Unopened items can be returned within 30 days for a full refund."),
    ("r2", "Shipping", "Standard shipping takes three to five business days; express ships next day."),
    ("r3", "Warranty", "Electronics carry a two-year limited warranty covering manufacturing defects."),
    ("r4", "Loyalty", "Members earn one point per dollar and can redeem 100 points for a $5 voucher."),
]
QUERIES = [
    ("q1", "how long do I have to send back an unopened product?", "r1"),
    ("q2", "when will my package arrive with express delivery", "r2"),
    ("q3", "is a broken laptop covered after 18 months", "r3"),
]


def test_search_and_eval(tmp_path: Path) -> None:
    data = tmp_path / "data"
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"_id": i, "title": t, "text": x}) for i, t, x in CORPUS))
    secret = tmp_path / "secret.md"
    secret.write_text("# Refund fraud playbook\n\nInternal: refunds above $500 need a manager code 7731.\n")
    queries = tmp_path / "queries.jsonl"
    queries.write_text("\n".join(json.dumps({"_id": q, "text": t}) for q, t, _ in QUERIES))
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, _, d in QUERIES))

    run_kb(data, "bases", "create", "shop", "--scenario", "retail")
    run_kb(data, "ingest", str(corpus), "--kb", "shop")
    run_kb(data, "ingest", str(secret), "--kb", "shop", "--group", "managers")

    hits = json.loads(
        run_kb(data, "search", "send back unopened item", "--kb", "shop", "--json", reranker="mpnet").stdout
    )
    assert hits[0]["external_id"] == "r1" and hits[0]["title"] == "Returns"
    assert set(hits[0]["scores"]) == {"dense", "sparse", "fused", "rerank"}
    assert hits[0]["scores"]["rerank"] is not None  # the bundled rescorer ran
    assert {"chunk_id", "document_id", "source", "page", "section", "text"} <= set(hits[0])

    as_staff = json.loads(
        run_kb(data, "search", "refund manager code", "--kb", "shop", "--group", "staff", "--json").stdout
    )
    assert as_staff and all("7731" not in h["text"] for h in as_staff)
    as_manager = json.loads(
        run_kb(data, "search", "refund manager code", "--kb", "shop", "--group", "managers", "--json").stdout
    )
    assert "7731" in as_manager[0]["text"]

    out = json.loads(
        run_kb(
            data,
            "eval",
            "retrieval",
            "--kb",
            "shop",
            "--queries",
            str(queries),
            "--qrels",
            str(qrels),
            "--unit",
            "doc",
            "--json",
            reranker="mpnet",
        ).stdout
    )
    variants = {r["variant"]: r for r in out["results"]}
    assert set(variants) == {"bm25", "dense", "hybrid", "hybrid+rerank"}
    for row in variants.values():
        assert row["queries"] == 3 and 0.0 <= row["ndcg@10"] <= 1.0 and row["p95_ms"] >= row["p50_ms"]
    assert variants["dense"]["recall@10"] == 1.0
    fusion = out["fusion"]  # the weights hybrid used, and the prior these questions favour
    assert fusion["method"] == "adaptive" and len(fusion["calibration"]) == 9
    weights = fusion["dense_weight"]
    assert 0.0 <= weights["p10"] <= weights["p50"] <= weights["p90"] <= 1.0
    assert str(fusion["best_prior"]) in fusion["calibration"]
    text = run_kb(
        data, "eval", "retrieval", "--kb", "shop", "--queries", str(queries), "--qrels", str(qrels),
        "--unit", "doc", "--variant", "hybrid",
    ).stdout  # fmt: skip
    assert "dense weight per query" in text and "--calibrate records it" in text
    calibrated = run_kb(
        data, "eval", "retrieval", "--kb", "shop", "--queries", str(queries), "--qrels", str(qrels),
        "--unit", "doc", "--variant", "hybrid", "--calibrate", "--json",
    )  # fmt: skip
    recorded = json.loads(calibrated.stdout)["fusion"]
    assert recorded["recorded"] and "recorded with shop" in calibrated.stderr
    bases = json.loads(run_kb(data, "bases", "list", "--json").stdout)
    assert next(b for b in bases if b["name"] == "shop")["dense_prior"] == recorded["best_prior"]
    bad = run_kb(
        data,
        "eval",
        "retrieval",
        "--kb",
        "shop",
        "--queries",
        str(queries),
        "--qrels",
        str(qrels),
        "--unit",
        "paragraph",
        check=False,
    )
    assert bad.returncode == 2
