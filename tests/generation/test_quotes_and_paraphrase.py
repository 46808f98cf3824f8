"""Quoted answers and the paraphrase-aware support check, with the real bundled embedder (MiniLM):
a passage that answers is quoted verbatim when the model's answer cannot be verified; off-topic and
other-entity questions are still refused; a paraphrase of a passage sentence is supported, a changed
number or a claim the passage does not make is not."""

from __future__ import annotations

import pytest

from core.types import Hit, Principal
from generation.answerer import AnswerConfig, Answerer, AskHooks
from generation.extractive import specific_terms
from generation.streaming import ShownPiece
from generation.support import SupportChecker, SupportConfig
from retrieval.filters import SearchFilters
from tests.generation.test_citations import FixedRetriever, Scripted

pytestmark = pytest.mark.slow

DOMINOES = (
    "- Includes: 91 dominoes, 9 trains, score pad, easy to read instructions and aluminum carrying case\n"
    "- Mexican train is a modern version of dominoes, played with 91 double-12 dominoes.\n"
    "- Recommended for 2-8 players, ages 8 and up.\n"
    "- Great for on-the-go fun: this set comes in a sleek aluminum carry case."
)
PERKS = (
    "Introducing PerksPlus - the ultimate benefits program designed to support the health and wellness of "
    "employees. With PerksPlus, employees have the opportunity to expense up to $1000 for fitness-related "
    "programs, making it easier and more affordable to maintain a healthy lifestyle."
)
ME = Principal("me", admin=True)


def passage(n: int, text: str, title: str, page: int | None = None) -> Hit:
    return Hit(
        chunk_id=f"c{n}", document_id=f"d{n}", kb="k", text=text, source=f"{title}.md", title=title,
        page=page, heading_path=(title, "Features"), char_start=0, char_end=len(text), dense_score=0.6,
    )  # fmt: skip


@pytest.fixture(scope="module")
def embed():  # type: ignore[no-untyped-def]
    from app.context import AppContext
    from core.settings import Settings

    return AppContext(Settings(), migrate=False).embedder.embed


def answerer(embed, hits: list[Hit], reply: str) -> Answerer:  # type: ignore[no-untyped-def]
    return Answerer(FixedRetriever(hits), Scripted(reply), AnswerConfig(), embed=embed)


def test_a_passage_that_answers_is_quoted_when_the_model_declines(embed) -> None:  # type: ignore[no-untyped-def]
    hits = [passage(1, DOMINOES, "Cardinal Mexican Train dominoes")]
    shown: list[ShownPiece] = []
    answer = answerer(embed, hits, "NOT_IN_SOURCES").ask(
        "Is the Mexican Train domino set suitable for kids?",
        filters=SearchFilters(), principal=ME, hooks=AskHooks(on_piece=shown.append),
    )  # fmt: skip
    assert answer.kind == "quoted" and not answer.abstained and not shown
    assert "Recommended for 2-8 players, ages 8 and up." in answer.text
    assert answer.text.startswith("From Cardinal Mexican Train dominoes, Features:")
    [citation] = answer.citations
    assert citation.n == 1 and citation.snippet in DOMINOES  # verbatim


def test_a_quote_replaces_an_unverifiable_answer(embed) -> None:  # type: ignore[no-untyped-def]
    hits = [passage(1, PERKS, "PerksPlus", page=3)]
    answer = answerer(embed, hits, "You can claim up to $5000 a year [1].").ask(
        "What is the maximum amount I can expense with PerksPlus?", filters=SearchFilters(), principal=ME
    )
    assert answer.kind == "quoted" and "$1000" in answer.text and "page 3" in answer.text
    assert answer.unsupported_sentences == ("You can claim up to $5000 a year [1].",)


@pytest.mark.parametrize(
    "question",
    [
        "What was NVIDIA's data center revenue in fiscal 2023?",  # another entity
        "How do I reset my VPN password?",  # another topic
        "What is the parental leave policy?",
    ],
)
def test_off_topic_questions_are_refused_not_quoted(embed, question: str) -> None:  # type: ignore[no-untyped-def]
    hits = [passage(1, PERKS, "PerksPlus", page=3), passage(2, DOMINOES, "Cardinal Mexican Train dominoes")]
    answer = answerer(embed, hits, "NOT_IN_SOURCES").ask(question, filters=SearchFilters(), principal=ME)
    assert answer.abstained and answer.kind == "abstained", answer.text


def test_names_and_years_are_what_a_passage_must_mention() -> None:
    assert specific_terms("What was NVIDIA's revenue in 2023 for my 36 stores?") == {"nvidia", "2023"}
    assert specific_terms("is this suitable for a one-year-old?") == set()


def test_paraphrase_is_supported_but_changed_numbers_and_new_claims_are_not(embed) -> None:  # type: ignore[no-untyped-def]
    checker = SupportChecker(SupportConfig(), embed)
    evidence = checker.evidence([passage(1, PERKS, "PerksPlus", page=3)])
    paraphrase = checker.check("Staff may claim as much as $1000 for fitness programs [1].", evidence)
    assert paraphrase.supported, paraphrase
    lexical_only = SupportChecker(SupportConfig(min_similarity=None), embed)
    strict = lexical_only.check("Staff may claim as much as $1000 for fitness programs [1].", evidence)
    assert not strict.supported  # the key-term rule alone misses the paraphrase
    assert not checker.check("Staff may claim as much as $2000 for fitness programs [1].", evidence).supported
    assert not checker.check("PerksPlus also pays for your holiday flights [1].", evidence).supported


def test_a_list_item_is_never_quoted_against_its_lead_in(embed) -> None:  # type: ignore[no-untyped-def]
    perks = (
        "PerksPlus covers a wide range of fitness activities, including but not limited to:\n"
        "• Gym memberships\n• Personal training sessions\n• Yoga and Pilates classes\n"
        "There is also a list of things that are not covered under the program.\n"
        "These include but are not limited to:\n• Non-fitness related expenses\n• Medical treatments"
    )
    answer = answerer(embed, [passage(1, perks, "PerksPlus", page=3)], "NOT_IN_SOURCES").ask(
        "What fitness-related expenses are covered by PerksPlus?", filters=SearchFilters(), principal=ME
    )
    assert "Non-fitness" not in answer.text, answer.text


def test_a_quote_of_the_period_asked_wins_over_a_closer_one_of_another_span(embed) -> None:  # type: ignore[no-untyped-def]
    # "in its Q3 10-Q": the nine-month figure is true but answers another span than the quarter's
    nine = (
        "During the nine months ended July 1, 2023, Apple repurchased 365 million shares of its common "
        "stock in buybacks of $56.1 billion."
    )
    quarter = (
        "The Company repurchased $18.0 billion of its common stock and paid dividends and dividend "
        "equivalents of $3.8 billion during the third quarter of 2023."
    )
    hits = [
        passage(1, nine, "Apple 10-Q Q3 2023", page=14),
        passage(2, quarter, "Apple 10-Q Q3 2023", page=18),
    ]
    question = "Did Apple repurchase shares in its Q3 2023 10-Q, and what was the scale of the buybacks?"
    answer = answerer(embed, hits, "NOT_IN_SOURCES").ask(question, filters=SearchFilters(), principal=ME)
    assert answer.kind == "quoted" and "$18.0 billion" in answer.text and "$56.1" not in answer.text
    # a question that names no span keeps the closest quote
    answer = answerer(embed, hits, "NOT_IN_SOURCES").ask(
        "Did Apple repurchase shares of its common stock, and for how much?",
        filters=SearchFilters(),
        principal=ME,
    )
    assert answer.kind == "quoted" and answer.citations
