"""Section headings of PDFs without bookmarks, from their fonts (ingest.loaders.pdf_layout)."""

from __future__ import annotations

from pathlib import Path

from ingest.loaders.base import HeadingStack, LoadOptions
from ingest.loaders.pdf_layout import Line, mark_headings, page_blocks, with_headings
from ingest.loaders.pdf_loader import PdfLoader

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
BODY = (225, 12.0)
BOLD = (380, 12.0)


def page(*lines: tuple[str, tuple[int, float]]) -> list[Line]:
    """A page of text-layer lines, 14 points apart, in the given fonts."""
    return [
        Line(text, 700 - 14 * i, 688 - 14 * i, 12.0, 72.0, 500.0, style=style)
        for i, (text, style) in enumerate(lines)
    ]


BODY_TEXT = "The Company repurchased shares of its common stock during the quarter under its programs."


def test_headings_are_short_lines_set_apart_from_the_body_font() -> None:
    pages = [
        page(
            ("Quarterly Highlights", BOLD),
            (BODY_TEXT, BODY),
            ("A whole paragraph set in another weight is emphasis, not a heading of its own", BOLD),
            ("and it goes on for a second line of the same weight.", BOLD),
            ("Segment Operating", (380, 16.0)),  # larger: level 1, over two lines
            ("Performance", (380, 16.0)),
            (BODY_TEXT, BODY),
            ("Americas 35,383 37,472", BOLD),  # figures: a table row, never a heading
            (BODY_TEXT, BODY),
        )
    ]
    marked = mark_headings(pages)[0]
    assert [x.heading for x in marked] == [2, 0, 0, 0, 1, 1, 0, 0, 0]
    blocks = with_headings(page_blocks(marked, 1), HeadingStack())
    headings = [(b.level, b.text) for b in blocks if b.kind == "heading"]
    assert headings == [(2, "Quarterly Highlights"), (1, "Segment Operating Performance")]
    body = [b for b in blocks if b.kind == "paragraph"]
    assert body[0].heading_path == ("Quarterly Highlights",)
    assert body[-1].heading_path == ("Segment Operating Performance",)


def test_a_running_header_is_no_heading() -> None:
    header = "ACME CORPORATION NOTES TO THE FINANCIAL STATEMENTS"
    pages = [
        page((header, BOLD), (BODY_TEXT, BODY), (f"Note {n}", BOLD), (BODY_TEXT, BODY)) for n in range(4)
    ]
    marked = mark_headings(pages)
    assert all(p[0].heading == 0 for p in marked)
    assert [p[2].heading for p in marked] == [2, 2, 2, 2]


def test_a_lead_in_line_is_no_section_but_a_cover_title_heads_the_document() -> None:
    cover = page(("Apple Inc.", (380, 20.0)), (BODY_TEXT, BODY))
    body = page(
        ("Segment revenue was as follows:", BOLD), (BODY_TEXT, BODY), ("Liquidity", BOLD), (BODY_TEXT, BODY)
    )
    marked = mark_headings([cover, body])
    assert [x.heading for x in marked[0]] == [1, 0]
    assert [x.heading for x in marked[1]] == [0, 0, 2, 0]


def test_lines_without_font_information_are_left_alone() -> None:
    pages = [[Line("Quarterly Highlights"), Line(BODY_TEXT)]]
    assert mark_headings(pages) == pages


def test_a_10q_without_bookmarks_gets_its_sections() -> None:
    doc = PdfLoader(LoadOptions()).load(SAMPLES / "finance" / "2023 Q3 AAPL.pdf")[0]
    buyback = next(b for b in doc.blocks if "repurchased $18.0 billion" in b.text)
    assert buyback.heading_path[-1] == "Quarterly Highlights"
    note = next(b for b in doc.blocks if "repurchased 365 million shares" in b.text)
    assert "Share Repurchase Program" in note.heading_path[-1]
    nvda = PdfLoader(LoadOptions()).load(SAMPLES / "finance" / "2023 Q3 NVDA.pdf")[0]
    headings = [b.text for b in nvda.blocks if b.kind == "heading"]
    assert "Note 3 - Leases" in headings
    assert not any(h.startswith("NVIDIA CORPORATION AND SUBSIDIARIES NOTES") for h in headings)
