"""Figure questions answered by the cells of the table rows they name, in the period they name
(generation.lookup), and the answerer's finance path that uses it."""

from __future__ import annotations

from core.tables import parse_table_text
from core.types import Hit, Principal
from generation.answerer import Answerer
from generation.lookup import look_up
from retrieval.filters import SearchFilters
from retrieval.routing import Route
from retrieval.table_rows import question_terms
from tests.generation.test_citations import Scripted

STATEMENT = (
    "Gross margin — Three Months Ended July 1, 2023: 36,413; Three Months Ended June 25, 2022: 35,885; "
    "Nine Months Ended July 1, 2023: 128,721; Nine Months Ended June 25, 2022: 132,687\n"
    "Research and development — Three Months Ended July 1, 2023: 7,442; Three Months Ended June 25, 2022: "
    "6,797; Nine Months Ended July 1, 2023: 22,608; Nine Months Ended June 25, 2022: 19,490"
)
SEGMENTS = (
    "Gaming — Three Months Ended October 29, 2023: $2,856; Change: 81%; "
    "Nine Months Ended October 29, 2023: $6,778\n"
    "Professional Visualization — Three Months Ended October 29, 2023: 416; Change: 108%; "
    "Nine Months Ended October 29, 2023: 1,085"
)


def passage(rows: str, n: int = 1) -> Hit:
    text = f"2023 Q3 filing\n{rows}"  # chunks start with their title line
    table = parse_table_text(rows)
    assert table is not None
    metadata = {"table": table.to_json() | {"scale": "million"}}
    return Hit(
        f"c{n}",
        f"d{n}",
        "fin",
        text,
        "q.pdf",
        "2023 Q3",
        4,
        (),
        0,
        len(text),
        dense_score=0.8,
        metadata=metadata,
    )


def terms(question: str) -> frozenset[str]:
    return question_terms(question, ["Apple Inc.", "NVIDIA Corporation"])


def test_the_period_asked_or_both_periods_of_the_latest_year() -> None:
    q = "What was Apple's gross margin in the latest quarter?"
    assert look_up(q, [passage(STATEMENT)], terms(q)).text() == (  # type: ignore[union-attr]
        "Gross margin — Three Months Ended July 1, 2023: 36,413 million [1]."
    )
    q = "What was the gross margin for Apple in the latest 10-Q report?"  # a 10-Q states both periods
    assert look_up(q, [passage(STATEMENT)], terms(q)).text() == (  # type: ignore[union-attr]
        "Gross margin — Three Months Ended July 1, 2023: 36,413 million; "
        "Nine Months Ended July 1, 2023: 128,721 million [1]."
    )
    q = "What was Apple's R&D (research and development) in the nine months ended June 2022?"
    found = look_up(q, [passage(STATEMENT)], terms(q))
    assert found is not None and "19,490 million" in found.text() and "22,608" not in found.text()


def test_the_quarter_named_must_be_the_columns_quarter() -> None:
    quarters = "Net revenue — Q3 2023 Amount: $14,158; Q3 2022 Amount: 15,338\n"
    hits = [passage(quarters)]
    assert look_up("What was Intel's net revenue in Q1 2023?", hits, terms("net revenue")) is None
    found = look_up("What was Intel's net revenue in the third quarter of 2023?", hits, terms("net revenue"))
    assert found is not None and "$14,158 million" in found.text()


def test_several_named_rows_change_columns_left_out() -> None:
    q = "In the latest quarter, what were NVIDIA's gaming and professional visualization sales?"
    assert look_up(q, [passage(SEGMENTS)], terms(q)).text() == (  # type: ignore[union-attr]
        "Gaming — Three Months Ended October 29, 2023: $2,856 million [1]. "
        "Professional Visualization — Three Months Ended October 29, 2023: $416 million [1]."
    )


def test_no_lookup_without_a_named_row_a_single_period_or_for_a_calculation() -> None:
    hits = [passage(STATEMENT)]
    for q in (
        "What did Apple say about foreign currencies?",  # no row named
        "What was Apple's gross margin in 2021?",  # no column of that year
        "By what percentage did Apple's gross margin change in the quarter?",  # a calculation
    ):
        assert look_up(q, hits, terms(q)) is None, q


class Routed:
    def __init__(self, table_terms: frozenset[str]) -> None:
        self.table_terms = table_terms

    def route(self, question: str, filters: SearchFilters, principal: Principal | None) -> Route:
        return Route(filters, table_terms=self.table_terms)


class OneHit:
    def search(self, query, *, k, filters, principal):  # type: ignore[no-untyped-def]
        return [passage(STATEMENT)]


def test_finance_answers_read_the_table_other_scenarios_ask_the_model() -> None:
    q = "What was Apple's gross margin in the latest quarter?"
    model = Scripted("Gross margin was 36,413 [1].")
    answerer = Answerer(OneHit(), model, router=Routed(terms(q)))  # type: ignore[arg-type]
    ask = {"filters": SearchFilters(kbs=("fin",)), "principal": Principal("u")}
    answer = answerer.ask(q, scenario="finance", **ask)  # type: ignore[arg-type]
    assert answer.kind == "table" and answer.text.endswith("36,413 million [1].") and not model.calls
    assert answer.citations[0].snippet.startswith("Gross margin — Three Months")
    assert answerer.ask(q, scenario="employee", **ask).kind == "generated"  # type: ignore[arg-type]
    # no router (or nothing lifted, across companies): the passages read may still hold the row
    unrouted = Answerer(OneHit(), model).ask(q, scenario="finance", **ask)  # type: ignore[arg-type]
    assert unrouted.kind == "table" and "36,413 million" in unrouted.text
