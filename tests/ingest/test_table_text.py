"""Table rows rendered with their column headers, as chunks carry them."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.loaders import load_path
from ingest.table_text import header_count, table_text


def rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("|")] for line in text.strip("\n").split("\n")]


def test_multi_row_headers_caption_and_years() -> None:
    grid = rows(
        """
 |  | Years Ended September 30, |
 | 2019 | 2018 | 2017
Fixed Price | $  1,452.4 | $  1,146.2 | $  1,036.9
Total sales | $1,496.5 | $1,202.9 | $1,107.7"""
    )
    rendered = table_text(grid)
    assert rendered.caption == "Years Ended September 30,"
    assert rendered.header_rows == 2
    assert rendered.rows == [
        "Fixed Price — 2019: $  1,452.4; 2018: $  1,146.2; 2017: $  1,036.9",
        "Total sales — 2019: $1,496.5; 2018: $1,202.9; 2017: $1,107.7",
    ]


def test_spanning_labels_fill_to_the_right_and_section_rows_stay_labels() -> None:
    grid = rows(
        """
 | Domestic |  | International |
 | 2019 | 2018 | 2019 | 2018
Discount rate | 4.00% | 3.75% | 1.90% | 2.80%
Pension plans: |  |  |  |
Expected return | | | 3.40% | 3.70%"""
    )
    rendered = table_text(grid)
    assert rendered.caption == "" and rendered.header_rows == 2
    assert rendered.rows == [
        "Discount rate — Domestic 2019: 4.00%; Domestic 2018: 3.75%; "
        "International 2019: 1.90%; International 2018: 2.80%",
        "Pension plans:",
        "Expected return — International 2019: 3.40%; International 2018: 3.70%",
    ]


def test_loader_marked_header_and_tables_without_headers() -> None:
    plans = [["Plan", "Deductible", "Copay"], ["Gold", "$500 per year", "$20 per visit"]]
    assert table_text(plans, header=True).rows == ["Gold — Deductible: $500 per year; Copay: $20 per visit"]
    # Without the loader's word, a first row of words with a label in the corner is data.
    assert table_text(plans, header=False).rows == [
        "Plan | Deductible | Copay",
        "Gold | $500 per year | $20 per visit",
    ]
    figures = [["Net sales", "81,797", "82,959"], ["Cost of sales", "45,384", "47,074"]]
    assert header_count(figures, header=False) == 0
    assert table_text(figures).rows == ["Net sales | 81,797 | 82,959", "Cost of sales | 45,384 | 47,074"]
    assert header_count([["", "2023", "2022"]], header=False) == 0  # a header needs a body row


def test_corpus_records_holding_pipe_tables_become_table_blocks(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    records = [
        {
            "_id": "T1",
            "title": "table",
            "text": " |  | Years Ended |\n | 2019 | 2018\nRevenue | 1,234 | 1,100",
        },
        {"_id": "M1", "text": "| Plan | Copay |\n|---|---|\n| Gold | $20 |"},
        {"_id": "P1", "text": "Choose A | B carefully.\nThen sign."},
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in records))
    docs = {d.external_id: d for d in load_path(corpus)}
    table = docs["T1"].blocks[0]
    assert table.kind == "table" and table.text == records[0]["text"]  # spans stay the record's text
    rendered = table_text(table.rows, table.header)
    assert (rendered.caption, rendered.rows) == ("Years Ended", ["Revenue — 2019: 1,234; 2018: 1,100"])
    markdown = docs["M1"].blocks[0]
    assert markdown.kind == "table" and markdown.rows == (("Plan", "Copay"), ("Gold", "$20"))
    assert [b.kind for b in docs["P1"].blocks] == ["paragraph"]


def test_table_chunks_keep_their_cells_with_scale_from_the_text_above(tmp_path: Path) -> None:
    from ingest.chunking import StructureAwareChunker

    page = tmp_path / "results.md"
    page.write_text(
        "# Results\n\nThe table below shows net sales (in millions).\n\n"
        "| | 2023 | 2022 |\n|---|---|---|\n| iPhone | 39,669 | 40,665 |\n| Mac | 6,840 | 7,382 |\n"
    )
    chunker = StructureAwareChunker(lambda texts: [len(t.split()) * 2 for t in texts])
    chunks = chunker.split(load_path(page)[0])
    tables = [c for c in chunks if c.table]
    assert len(tables) == 1 and "iPhone — 2023: 39,669; 2022: 40,665" in tables[0].text
    cells = tables[0].table
    assert cells is not None and cells["scale"] == "million" and cells["statement"] == "Results"
    assert ["iPhone", "2023", "39,669"] in cells["cells"] and ["Mac", "2022", "7,382"] in cells["cells"]
    assert all(not c.table for c in chunks if c.kind != "table")
