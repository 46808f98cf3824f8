"""Answers retrieve through the question router: a named company narrows the search, and a company
the base does not hold is answered with an abstention that names it (fake facts, scripted model)."""

from __future__ import annotations

from core.types import Hit, Principal
from generation.answerer import Answerer
from retrieval.filters import SearchFilters
from retrieval.routing import QueryRouter
from tests.generation.test_citations import Scripted, hit
from tests.retrieval.test_routing import FILINGS, FakeSource

ADMIN = Principal("admin", admin=True)
FILTERS = SearchFilters(kbs=("filings",))
NOT_NVIDIA = [d for d in FILINGS if not d.doc_id.startswith("nvda")]


class RecordingRetriever:
    """Returns its hits and remembers the filters each search was given."""

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.filters: list[SearchFilters] = []

    def search(self, query, *, k, filters, principal):  # type: ignore[no-untyped-def]
        self.filters.append(filters)
        return self.hits[:k]


def answerer(retriever: RecordingRetriever, reply: str) -> tuple[Answerer, Scripted]:
    gen = Scripted(reply)
    return Answerer(retriever, gen, router=QueryRouter(FakeSource(NOT_NVIDIA))), gen


def test_company_the_base_does_not_hold_is_an_abstention_that_says_so() -> None:
    retriever = RecordingRetriever([hit(1, "Gross margin was $36,413 million.")])
    ans, gen = answerer(retriever, "Gross margin was $36,413 million [1].")
    answer = ans.ask("What was NVIDIA's gross margin in the latest 10-Q?", filters=FILTERS, principal=ADMIN)
    assert answer.abstained and "NVIDIA" in answer.text
    assert not answer.sources and not answer.closest  # another company's passages are not offered
    assert not gen.calls and not retriever.filters  # neither searched nor generated
    draft = ans.ask(
        "Can you tell me NVIDIA's gross margin?", filters=FILTERS, principal=ADMIN, task="draft_reply"
    )
    assert draft.abstained and "NVIDIA" not in draft.text and "NVIDIA" in draft.notice


def test_named_company_narrows_the_search_and_unrouted_answerer_does_not() -> None:
    retriever = RecordingRetriever([hit(1, "Apple gross margin was $36,413 million.")])
    ans, _ = answerer(retriever, "Apple's gross margin was $36,413 million [1].")
    answer = ans.ask("What was Apple's gross margin?", filters=FILTERS, principal=ADMIN)
    assert not answer.abstained
    assert retriever.filters[-1].document_ids == {"aapl-q3-23", "aapl-q2-23", "aapl-fy-23"}
    ans.using(routed=False).ask("What was NVIDIA's gross margin?", filters=FILTERS, principal=ADMIN)
    assert retriever.filters[-1].document_ids is None
