"""Retail answers from product facts: a fact answers a yes/no question with the fact quoted (the model
gives only the verdict), a shopper's opinion is labelled as one, and a far-off question still abstains
(hashing embedder and scripted model: fakes; the real models run in the answer evaluation)."""

from __future__ import annotations

from collections.abc import Iterator

from core.types import Hit
from generation.answerer import Answerer
from generation.backends.base import Generation
from generation.product_facts import FACT, OPINION, is_yes_no, passage_kind, readable
from ingest.embedder import HashingEmbedder
from retrieval.filters import SearchFilters

FILTERS = SearchFilters(kbs=("shop",))


class Replies:
    """Answers NOT_IN_SOURCES to the answer prompt and ``verdict`` to the yes/no prompt."""

    name = "replies"

    def __init__(self, verdict: str) -> None:
        self.verdict = verdict
        self.calls = 0

    def complete(self, messages, *, max_tokens=512, temperature=0.0, stop=None) -> Generation:  # type: ignore[no-untyped-def]
        self.calls += 1
        return Generation(self.verdict, 10, 1, 1.0, 1.0, "stop")

    def stream(self, messages, *, max_tokens=512, temperature=0.0, stop=None) -> Iterator[str]:  # type: ignore[no-untyped-def]
        yield "NOT_IN_SOURCES"

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def sheet(n: int, text: str, path: tuple[str, ...], source: str | None = None) -> Hit:
    meta = {"source": source} if source else {}
    return Hit(
        f"c{n}",
        "dominoes",
        "shop",
        text,
        "dominoes.md",
        "Dominoes",
        None,
        path,
        0,
        len(text),
        dense_score=0.6,
        metadata=meta,
    )


HITS = [
    sheet(1, "Recommended for 2-8 players, ages 8 and up.", ("Product facts", "Features")),
    sheet(
        2, "My kids love playing it with grandpa every weekend.", ("Product facts", "From customer reviews")
    ),
]


def ask(question: str, hits: list[Hit], verdict: str = "Yes") -> tuple[str, str, bool]:
    class Fixed:
        def search(self, query, *, k, filters, principal):  # type: ignore[no-untyped-def]
            return hits

    answerer = Answerer(Fixed(), Replies(verdict), embed=HashingEmbedder().embed)
    answer = answerer.ask(question, filters=FILTERS, principal=None, scenario="retail")
    return answer.text, answer.kind, answer.abstained


def test_passage_kinds_and_readable_attributes() -> None:
    assert passage_kind(HITS[0]) == FACT and passage_kind(HITS[1]) == OPINION
    assert passage_kind(sheet(3, "x", (), "cqa")) == OPINION
    assert readable("num_batteries:  { quantity:3, type:aa }") == "num batteries: quantity 3, type aa"
    assert is_yes_no("Is it suitable for a 6 year old?") and is_yes_no("Does it need batteries?")
    assert not is_yes_no("Is the countertop plastic or wood?") and not is_yes_no("How many bands?")


def test_yes_no_question_answered_with_the_fact_quoted() -> None:
    text, kind, abstained = ask("Is this set suitable for kids ages 8 and up?", HITS)
    assert not abstained and kind == "quoted"
    assert text.startswith("Yes. The product facts say:") and "ages 8 and up" in text and "[1]" in text


def test_opinion_is_labelled_and_unrelated_question_abstains() -> None:
    text, _, abstained = ask("Do kids love playing it with grandpa?", [HITS[1]], verdict="Unclear")
    assert not abstained and "opinion" in text and "[1]" in text
    _, _, abstained = ask("What is the warranty on the battery charger?", HITS)
    assert abstained
    asked = sheet(3, "**Q:** How many players can play at once?", ("Customer questions",))
    _, _, abstained = ask("How many players can play at once?", [asked])
    assert abstained  # a shopper's question is no answer to the same question
