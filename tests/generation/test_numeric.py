"""Numbers computed, not guessed: the model picks cells and operation (scripted here), Python computes;
the figure check flags a figure from another period or row; amounts match within rounding and scale."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from core.tables import TableCell, TableCells, parse_table_text
from core.types import Hit
from generation.amounts import amounts_in
from generation.answerer import Answerer
from generation.evaluation import figure_match, span_match
from generation.figures import figures_from_named_rows, misplaced_figures
from generation.numeric import (
    NumericAnswerer,
    NumericPlan,
    aligned,
    asks_calculation,
    compute,
    number_cells,
    parse_plan,
    relevant_cells,
    wording_operation,
)
from generation.support import Evidence, SupportChecker, content_terms
from retrieval.filters import SearchFilters
from tests.generation.test_citations import Scripted

TABLE = (
    " | Year Ended December 31, | \n | 2019 | 2018\nSales | $788,948 | $718,892\n"
    "Operating expenses | 261,264 | 194,054\nNet inventories | 12,542 | 9,317"
)
QUARTERS = (
    "Net sales by category\n"
    "iPhone — Three Months Ended July 1, 2023: $ 39,669; Nine Months Ended July 1, 2023: $ 156,778\n"
    "Mac — Three Months Ended July 1, 2023: 6,840; Nine Months Ended July 1, 2023: 21,743"
)


def table_hit(text: str, n: int = 1, metadata: dict | None = None) -> Hit:
    return Hit(f"c{n}", f"d{n}", "fin", text, f"r{n}.pdf", f"Report {n}", 3, ("Results",), 0, len(text),
               dense_score=0.8, metadata=metadata or {})  # fmt: skip


def test_questions_that_ask_for_a_calculation() -> None:
    assert asks_calculation("What was the change in operating expenses between 2018 and 2019?")
    assert wording_operation("What was the percentage change in net inventories from 2018 to 2019?") == (
        "percent_change"
    )
    assert wording_operation("What proportion of revenue came from the data center?") == "percent_of"
    assert wording_operation("What is the increase/ (decrease) in percentage of net revenues of OEM?") == (
        "difference"
    )
    assert not asks_calculation("What is the total allowance for credit losses in 2019?")


def test_model_picks_cells_python_computes_in_time_order() -> None:
    note = replace(table_hit("The following table sets out results (in thousands).", 2), document_id="d1")
    hits = [table_hit(TABLE), note]
    question = "What was the change in operating expenses between 2018 and 2019?"
    cells = relevant_cells(question, number_cells(hits))  # what the model is shown, as C1, C2, ...
    assert cells[0].table.scale == "thousand"  # stated by another passage of the same document
    assert [(c.cell.row, c.cell.column) for c in cells[:2]] == [
        ("Operating expenses", "2019"),
        ("Operating expenses", "2018"),
    ]
    # The model names the earlier year first; a change is later minus earlier all the same.
    computed, trace = NumericAnswerer(Scripted("difference(C2, C1)")).answer(question, hits)
    assert computed is not None and computed.value == Decimal(67210)
    assert "261,264 − 194,054 = " in computed.text() and "[1]" in computed.text()
    assert trace["chosen_by"] == "model"


def test_percent_change_kept_when_the_model_says_difference_and_wording_fallback() -> None:
    hits = [table_hit(TABLE)]
    question = "What was the percentage change in net inventories from 2018 to 2019?"
    computed, _ = NumericAnswerer(Scripted("difference(C1, C2)")).answer(question, hits)
    assert computed is not None and computed.plan.operation == "percent_change"
    unusable, trace = NumericAnswerer(Scripted("I think it is 34%")).answer(question, hits)
    assert unusable is not None and trace["chosen_by"] == "wording"
    assert unusable.result_text() == "34.61%"  # (12,542 − 9,317) / 9,317 × 100


def test_operands_off_line_are_realigned_or_refused() -> None:
    cells = number_cells([table_hit(TABLE)])
    by = {(c.cell.row, c.cell.column): c for c in cells}
    share = NumericPlan("percent_of", (by[("Operating expenses", "2019")], by[("Sales", "2018")]))
    fixed = aligned(share, cells)
    assert fixed is not None and fixed.operands[1].cell.column == "2019"  # the whole of the same year
    across = NumericPlan("percent_of", (by[("Sales", "2019")], by[("Sales", "2018")]))
    assert aligned(across, cells) is None
    change = NumericPlan("difference", (by[("Sales", "2019")], by[("Sales", "2018")]))
    assert aligned(change, cells) == change


def test_share_uses_scaled_values_and_division_by_zero_is_no_answer() -> None:
    cells = number_cells([table_hit(TABLE)])
    plan = parse_plan("percent_of(C3, C1)", cells)  # operating expenses 2019 / sales 2019
    assert plan is not None
    result = compute(plan)
    assert result is not None and result.result_text() == "33.12%"
    zero = number_cells([table_hit("Item | 2019 | 2018\nA | 0 | 5\nB | 3 | 1")])
    ratio = parse_plan("ratio(C2, C1)", zero)
    assert ratio is not None and compute(ratio) is None


def test_the_part_of_a_share_is_the_line_item_the_question_names() -> None:
    hits = [table_hit(TABLE)]

    def plan_of(question: str, part: str, whole: str) -> NumericPlan | None:
        cells = relevant_cells(question, number_cells(hits))
        ids = [next(i for i, c in enumerate(cells, 1) if (c.cell.row, c.cell.column) == (row, "2019"))
               for row in (part, whole)]  # fmt: skip
        return NumericAnswerer(Scripted(f"percent_of(C{ids[0]}, C{ids[1]})")).plan(question, hits)[0]

    question = "What proportion of sales were operating expenses in 2019?"
    right = plan_of(question, "Operating expenses", "Sales")
    assert right is not None and right.operands[0].cell.row == "Operating expenses"
    assert plan_of(question, "Net inventories", "Operating expenses") is None  # another line item's share


def test_a_share_of_a_total_in_another_chunk_of_the_table() -> None:
    # Ingest split the segment table: this chunk shows Data Center, its sibling the Total row.
    q3 = "Three Months Ended Oct 29, 2023"
    shown = TableCells(scale="million", unit="$", cells=(
        TableCell("Data Center", q3, "$ 14,514"), TableCell("Gaming", q3, "2,856"),
    ), others=(TableCell("Total", q3, "$ 18,120"),))  # fmt: skip
    text = f"Data Center — {q3}: $ 14,514\nGaming — {q3}: 2,856"
    hits = [table_hit(text, metadata={"table": shown.to_json()})]
    cells = number_cells(hits)
    assert [c.cell.row for c in cells] == ["Data Center", "Gaming", "Total"] and {c.n for c in cells} == {1}
    question = "What proportion of revenue came from the data center in the quarter?"
    ranked = relevant_cells(question, cells)
    ids = [i for i, c in enumerate(ranked, 1) if c.cell.row in ("Data Center", "Total")]
    plan = NumericAnswerer(Scripted(f"percent_of(C{ids[0]}, C{ids[1]})")).plan(question, hits)[0]
    computed = compute(plan) if plan is not None else None
    assert computed is not None and f"{computed.value:.2f}" == "80.10"
    # a passage that shows the Total row is where it is read from
    rest = TableCells(scale="million", unit="$", cells=shown.others, others=shown.cells)
    sibling = table_hit(f"Total — {q3}: $ 18,120", n=2, metadata={"table": rest.to_json()})
    sibling = replace(sibling, document_id=hits[0].document_id)
    both = number_cells([hits[0], sibling])
    assert [(c.cell.row, c.n) for c in both] == [("Data Center", 1), ("Gaming", 1), ("Total", 2)]


def test_answerer_returns_a_computed_answer_with_cited_inputs() -> None:
    class OneHit:
        def search(self, query, *, k, filters, principal):  # type: ignore[no-untyped-def]
            return [table_hit(TABLE)]

    answer = Answerer(OneHit(), Scripted("difference(C1, C2)")).ask(
        "What was the change in operating expenses between 2018 and 2019?",
        filters=SearchFilters(kbs=("fin",)),
        principal=None,
    )
    assert answer.kind == "computed" and not answer.abstained
    assert "67,210" in answer.text and answer.citations[0].n == 1


def test_figure_from_another_period_or_row_is_flagged() -> None:
    hits = [table_hit(QUARTERS)]
    assert (
        misplaced_figures(
            "iPhone net sales for the three months ended July 1, 2023 were $39,669 million [1].", hits
        )
        == ""
    )
    wrong_period = misplaced_figures(
        "iPhone net sales in the third quarter of 2023 were $156,778 million [1].", hits
    )
    assert "Nine Months" in wrong_period
    wrong_row = misplaced_figures("Mac net sales in the quarter were $39,669 million [1].", hits)
    assert "iPhone" in wrong_row
    assert misplaced_figures("Revenue grew 12% [1].", hits) == ""  # not a table figure
    assert (
        misplaced_figures("In the latest 10-Q, 8-K and Q3 filings iPhone sales were $39,669 [1].", hits) == ""
    )


def test_a_figure_read_off_the_row_the_question_names_is_supported() -> None:
    """ "$39,669 million for the latest quarter [1]" answers "iPhone revenue last quarter?" from the
    iPhone row: the sentence need not repeat the row's name, but the figure must be that row's, in
    the period named, and the sentence may add only the question's words and the table's scale."""
    hits = [
        table_hit(QUARTERS, metadata={"table": parse_table_text(QUARTERS).to_json() | {"scale": "million"}})
    ]
    asked = content_terms("What was Apple's iPhone revenue in the latest 10-Q?")
    assert figures_from_named_rows("$39,669 million for the latest 10-Q [1].", hits, asked)
    assert not figures_from_named_rows("$6,840 million for the latest 10-Q [1].", hits, asked)  # Mac's
    assert not figures_from_named_rows("It was strong [1].", hits, asked)  # no figure
    evidence = Evidence(hits, None, "What was Apple's iPhone revenue in the latest 10-Q?")
    checker = SupportChecker()
    assert checker.check("$39,669 million for the latest 10-Q [1].", evidence).supported
    assert not checker.check("$156,778 million in the latest quarter [1].", evidence).supported  # nine months
    assert not checker.check("$39,669 million, a record driven by China [1].", evidence).supported


def test_amounts_match_within_rounding_and_scale() -> None:
    assert [a.scale for a in amounts_in("$39.7 billion and 12%")] == [1e9, None]
    assert span_match("The change is 67,210 thousand [1].", ["67210"], "thousand")
    assert span_match("It rose by $67.2 million [1].", ["67210"], "thousand")
    assert not span_match("The lease was $4,143 million [1].", ["$4,143"], "thousand")
    assert span_match("The lease was $4,143 [1].", ["$4,143"], "thousand")
    assert span_match("Net bookings fell 12.04% [1].", ["-12.04"], "percent")
    assert figure_match("iPhone revenue was $39.7 billion [1].", "$39,669 million") is True
    assert figure_match("iPhone revenue was $1.2 billion [1].", "$39,669 million") is False
    assert figure_match("anything", "The documents do not say.") is None


def test_a_prose_figure_of_another_span_than_the_question_asks_is_flagged() -> None:
    prose = table_hit(
        "Share repurchases\nDuring the nine months ended July 1, 2023, the Company repurchased "
        "365 million shares of its common stock for $56.1 billion."
    )
    q3 = "What was the scale of Apple's buybacks in its Q3 2023 10-Q?"
    assert "9-month" in misplaced_figures("Apple repurchased $56.1 billion of stock [1].", [prose], q3)
    said = "In the nine months ended July 1, 2023 Apple repurchased $56.1 billion of stock [1]."
    assert misplaced_figures(said, [prose], q3) == ""  # the sentence says which span
    assert (
        misplaced_figures("Apple repurchased $56.1 billion of stock [1].", [prose], "How big were buybacks?")
        == ""
    )
