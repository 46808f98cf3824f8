"""`kb search` and `kb eval retrieval` route by document facts (and don't with --no-route), with
the real embedder over two small filings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.test_cli_ingest import run_kb

pytestmark = pytest.mark.slow

COVER = (
    "FORM 10-Q\n\nFor the quarterly period ended June 30, 2024\n\n{name}\n\n"
    "(Exact name of registrant as specified in its charter)\n\n"
    "Title of each class Trading Symbol(s) Name of each exchange on which registered\n"
    "Common Stock {ticker} The Nasdaq Stock Market LLC\n\n"
    "Total revenue for the three months ended June 30, 2024 was {revenue} million, driven by {driver}."
)


def test_search_and_eval_with_and_without_routing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = tmp_path / "filings"
    folder.mkdir()
    (folder / "acme.txt").write_text(
        COVER.format(name="Acme Corp", ticker="ACME", revenue="$1,234", driver="anvil sales")
    )
    (folder / "globex.txt").write_text(
        COVER.format(name="Globex Inc.", ticker="GBX", revenue="$9,876", driver="anvil sales")
    )
    run_kb(data, "bases", "create", "filings", "--scenario", "finance")
    run_kb(data, "ingest", str(folder), "--kb", "filings")

    routed = run_kb(data, "search", "What was Globex's total revenue?", "--kb", "filings", "--json")
    assert {Path(h["source"]).name for h in json.loads(routed.stdout)} == {"globex.txt"}
    question = "What was Globex's total revenue?"
    plain = run_kb(data, "search", question, "--kb", "filings", "--json", "--no-route")
    assert {Path(h["source"]).name for h in json.loads(plain.stdout)} == {"acme.txt", "globex.txt"}
    missing = run_kb(data, "search", "What was Initech's total revenue?", "--kb", "filings", "--json")
    assert json.loads(missing.stdout) == [] and "no documents about Initech" in missing.stderr

    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"_id": "q1", "text": "What was Globex's total revenue?"}) + "\n")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\tglobex.txt\t1\n")
    args = ["eval", "retrieval", "--kb", "filings", "--queries", str(queries), "--qrels", str(qrels)]
    with_route = json.loads(run_kb(data, *args, "--json", "--variant", "bm25").stdout)
    without = json.loads(run_kb(data, *args, "--json", "--variant", "bm25", "--no-route").stdout)
    assert with_route["routing"] and not without["routing"]
    assert with_route["results"][0]["routed"] == 1 and with_route["results"][0]["ndcg@10"] == 1.0
    assert "routed" not in without["results"][0]
