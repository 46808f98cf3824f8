"""Tables of real PDFs keep their column headers all the way into the chunks: the 10-Q statements
(borderless, headers over the figure columns) and Contoso's cost table (an image, read by OCR)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.types import Document
from ingest.chunking import StructureAwareChunker, hf_token_counter
from ingest.loaders import load_path
from ingest.loaders.pdf_tables import page_tables
from ingest.ocr import shared_engine


@pytest.fixture(scope="module")
def chunker() -> StructureAwareChunker:
    from core.models import bundled_embedding_model_dir

    return StructureAwareChunker(hf_token_counter(bundled_embedding_model_dir()))


def _chunks_with(doc: Document, chunker: StructureAwareChunker, cell: str) -> list[str]:
    return [c.text for c in chunker.split(doc) if c.kind == "table" and cell in c.text]


def test_borderless_statement_rows_get_the_period_headers() -> None:
    def word(text: str, x0: float, top: float) -> dict[str, object]:
        return {"text": text, "x0": x0, "x1": x0 + 5 * len(text), "top": top, "bottom": top + 8}

    words = [
        word("Three", 300, 100), word("Months", 328, 100), word("Ended", 361, 100),
        word("2023", 300, 112), word("2022", 380, 112),
        word("Revenue", 20, 126), word("$", 290, 126), word("13,507", 300, 126), word("6,704", 380, 126),
        word("Cost", 20, 138), word("4,045", 306, 138), word("3,789", 386, 138),
    ]  # fmt: skip
    (region,) = page_tables(words, 800, page=3)
    assert region.block.header and region.block.page == 3
    assert region.block.rows == (
        ("", "Three Months Ended 2023", "Three Months Ended 2022"),
        ("Revenue", "$13,507", "6,704"),
        ("Cost", "4,045", "3,789"),
    )


def test_10q_table_chunks_carry_their_column_headers(datasets: Path, chunker: StructureAwareChunker) -> None:
    doc = load_path(datasets / "docugami_sec10q" / "docs" / "2023 Q3 AAPL.pdf")[0]
    statement = next(b for b in doc.blocks if b.kind == "table" and b.page == 4)
    assert statement.header and statement.rows[0][1] == "Three Months Ended July 1, 2023"
    assert ("Research and development", "7,442", "6,797", "22,608", "19,490") in statement.rows
    # Rows are written with their column headers (ingest/table_text.py).
    (chunk,) = _chunks_with(doc, chunker, "Research and development — Three Months Ended July 1, 2023: 7,442")
    assert "Three Months Ended June 25, 2022: 6,797" in chunk
    balance = [b for b in doc.blocks if b.kind == "table" and b.page == 6]
    assert all(b.header and b.rows[0][1:] == ("July 1, 2023", "September 24, 2022") for b in balance)


@pytest.mark.slow
def test_contoso_cost_table_in_an_image_keeps_its_header(
    datasets: Path, chunker: StructureAwareChunker
) -> None:
    doc = load_path(datasets / "contoso_hr_benefits" / "docs" / "Benefit_Options.pdf", ocr=shared_engine())[0]
    (table,) = [b for b in doc.blocks if b.kind == "table"]
    assert table.page == 4 and table.header and table.ocr_confidence is not None
    assert table.rows[0][1:] == (
        "Employee's cost per paycheck Northwind Standard",
        "Employee's cost per paycheck Northwind Health Plus",
    )
    assert ("Employee Only", "$45.00", "$55.00") in table.rows
    (chunk,) = _chunks_with(doc, chunker, "Employee Only | $45.00")
    assert "Northwind Health Plus" in chunk
