"""Table rows a question names are lifted above prose about them (retrieval.table_rows), and the
router hands the question's line-item words to every search it routes."""

from __future__ import annotations

from dataclasses import replace

from core.tables import TableCell, TableCells
from core.types import Hit
from retrieval.filters import SearchFilters
from retrieval.routing import Route
from retrieval.table_rows import label_match, lift_table_rows, question_terms, row_match

APPLE = ["Apple Inc.", "AAPL"]


def passage(chunk_id: str, text: str, rows: dict[str, str] | None = None, title: str = "2023 Q3 AAPL") -> Hit:
    metadata = {"company": "Apple Inc."}
    if rows is not None:
        cells = tuple(TableCell(label, "Three Months Ended July 1, 2023", v) for label, v in rows.items())
        metadata["table"] = TableCells("", "", "million", "$", cells).to_json()
    return Hit(
        chunk_id, "aapl", "filings", text, "aapl.pdf", title, 1, (), 0, 1, fused_score=1.0, metadata=metadata
    )


PROSE = passage("risk", "The Company's future gross margins can be impacted by a variety of factors.")
CERTIFICATION = passage(
    "cert", "I certify that the Quarterly Report of Apple Inc. on Form 10-Q fully complies."
)
MARGIN = passage(
    "margin", "Gross margin — Three Months Ended July 1, 2023: 36,413", {"Total gross margin": "$36,413"}
)
SALES = passage(
    "sales", "iPhone — ...: $39,669", {"iPhone": "$39,669", "Mac": "6,840", "Total net sales": "81,797"}
)
FOOTER = passage("footer", "Apple Inc. | Q3 — $(265): 2023", {"Apple Inc. | Q3": "$(265)"})


def test_question_terms_leave_out_the_company_period_and_form() -> None:
    terms = question_terms("What was the gross margin for Apple in the latest 10-Q report?", APPLE)
    assert terms == question_terms("gross margin")
    assert not question_terms("What did Apple report in its latest 10-Q?", APPLE)


def test_the_row_the_question_names_is_lifted_to_the_front() -> None:
    terms = question_terms("What was the gross margin for Apple in the latest 10-Q report?", APPLE)
    ranked = lift_table_rows(terms, [PROSE, CERTIFICATION, SALES, FOOTER, MARGIN])
    assert [h.chunk_id for h in ranked] == ["margin", "risk", "cert", "sales", "footer"]
    match = row_match(terms, MARGIN)
    assert match is not None and match.label == "Total gross margin" and match.coverage == 1.0


def test_filler_words_and_the_documents_own_names_do_not_make_a_match() -> None:
    # "total" and "net" alone name no line item; a mis-parsed footer row names only the company.
    assert row_match(question_terms("What were Apple's total net earnings?", APPLE), SALES) is None
    assert row_match(question_terms("What did Apple Inc. report for Q3?", APPLE), FOOTER) is None
    terms = question_terms("For the latest quarter, what was Apple's iPhone revenue?", APPLE)
    assert [h.chunk_id for h in lift_table_rows(terms, [PROSE, FOOTER, SALES])] == ["sales", "risk", "footer"]


def test_nothing_moves_without_a_named_row() -> None:
    hits = [PROSE, CERTIFICATION, MARGIN]
    assert lift_table_rows(question_terms("Who signed the certification?", APPLE), hits) == hits
    assert lift_table_rows(frozenset(), hits) == hits


def test_a_long_row_label_is_named_by_two_of_its_words() -> None:
    terms = question_terms("What cash flows from operations did Amazon disclose?", ["Amazon.com, Inc."])
    match = label_match(terms, "Net cash provided by (used in) operating activities")
    assert match is not None and match.terms == {"cash", "oper"}
    assert label_match(terms, "Cash and cash equivalents, beginning of period") is None


def test_rows_are_lifted_from_the_documents_of_the_period_asked() -> None:
    # "the latest 10-Q": last year's table, however well its row matches, stays where it ranked
    old_margin = replace(MARGIN, chunk_id="old-margin", document_id="aapl-2022")
    terms = question_terms("What was the gross margin for Apple in the latest 10-Q report?", APPLE)
    route = Route(SearchFilters(), boosts={"aapl": 2.0}, table_terms=terms)
    ranked = route.rank([PROSE, old_margin, CERTIFICATION, MARGIN], 4)
    assert [h.chunk_id for h in ranked] == ["margin", "risk", "cert", "old-margin"]
    # without a period, the best-matching row is lifted wherever it is
    assert lift_table_rows(terms, [PROSE, old_margin, MARGIN])[0].chunk_id == "old-margin"
