"""Answer-evaluation figures on scripted answers."""

from __future__ import annotations

import json
from pathlib import Path

from core.types import Answer, Citation, Hit
from generation.evaluation import (
    FixedHits,
    QAItem,
    evaluate_answers,
    gold_hits,
    number_check,
    read_qa,
    span_match,
    token_f1,
)
from retrieval.filters import SearchFilters

SRC = Hit(
    chunk_id="c1",
    document_id="d1",
    kb="kb",
    text="Ctx\nClaims are due within 90 days of service.",
    source="a.pdf",
    title="A",
    page=2,
    heading_path=(),
    char_start=0,
    char_end=40,
)


def answer(text: str, abstained: bool = False, removed: int = 0) -> Answer:
    cites = () if abstained else (Citation(1, "c1", "d1", "a.pdf", "A", 2, None, "Claims are due", 0, 14),)
    return Answer(
        text=text,
        abstained=abstained,
        citations=cites,
        unsupported_sentences=(),
        sources=(SRC,),
        timings={"first_token_ms": 100.0, "total_ms": 900.0, "tokens_per_s": 20.0},
        removed_citations=removed,
    )


def test_token_f1() -> None:
    assert token_f1("Claims are due within 90 days [1].", "Claims are due within 90 days.") == 1.0
    assert token_f1("", "x") == 0.0
    assert 0 < token_f1("due in 90 days", "claims are due within 90 days") < 1


def test_read_qa_strips_gold_citations(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(
        json.dumps({"question": "q", "truth": "A [doc.pdf#page=2]"})
        + "\n"
        + json.dumps({"question": "u", "answer": None})
        + "\n"
    )
    assert read_qa(path) == [QAItem("q", "A"), QAItem("u", None)]


def test_evaluate_answers_counts() -> None:
    replies = {
        "due?": answer("Claims are due within 90 days [1].", removed=1),
        "ceo salary?": answer("not covered", abstained=True),
        "parking?": answer("not covered", abstained=True),
    }
    items = [
        QAItem("due?", "Claims are due within 90 days."),
        QAItem("ceo salary?", None),
        QAItem("parking?", "Parking is free."),
    ]
    report = evaluate_answers(items, lambda q: replies[q])
    assert report["token_f1"] == 0.5  # one perfect answer, one false abstention
    assert report["phantom_citations_shown"] == 0 and report["phantom_citations_removed"] == 1
    assert report["supported_cited_sentence_rate"] == 1.0 and report["cited_sentences"] == 1
    assert report["abstention_rate_unanswerable"] == 1.0 and report["false_abstention_rate"] == 0.5
    assert report["first_token_ms_p50"] == 100.0


def test_read_qa_optional_keys(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    row = {
        "question": "q",
        "answer": "5 million",
        "answer_spans": ["5"],
        "metadata": {"asin": "B1"},
        "context": [{"title": "table", "text": "a | 5"}, "para"],
    }
    path.write_text(json.dumps(row) + "\n")
    (item,) = read_qa(path)
    assert item.spans == ("5",) and item.metadata == {"asin": "B1"}
    assert item.context == (("table", "a | 5"), ("", "para"))


def test_span_match_numbers_and_text() -> None:
    assert span_match("Revenue rose 12.35% [1].", ["12.3456"])  # rounded as printed
    assert span_match("It was $1,496.5 million [1].", ["1,496.5"])
    assert span_match("Sales decreased by 611 [1].", ["-611"])  # the sign is in the words
    spans = ["fixed-price type", "cost-plus type"]
    assert span_match("Types: fixed-price type and cost-plus type [1].", spans)
    assert not span_match("It was 13 [1].", ["12.3456"])
    assert not span_match("Only fixed-price type [1].", spans)
    assert not span_match("anything", [])


def test_number_check_counts_flagged_numbers() -> None:
    flagged = "The deadline is 120 days [1]."
    reply = Answer(
        text=f"Claims are due within 90 days [1]. {flagged}",
        abstained=False,
        citations=(),
        unsupported_sentences=(flagged,),
        sources=(SRC,),
        timings={},
    )
    assert number_check(reply) == (2, 1, 1)
    report = evaluate_answers([QAItem("due?", "90 days")], ask_item=lambda item: reply)
    assert report["numbers_stated"] == 2 and report["numbers_not_in_cited_sources"] == 1
    assert report["unverified_numbers_flagged_rate"] == 1.0 and report["answers_with_unverified_numbers"] == 1


def test_gold_hits_feed_the_answerer_unchanged() -> None:
    item = QAItem("q", "a", context=(("table", "x | 1"), ("", "para")))
    hits = gold_hits(item, "kb")
    assert [h.title for h in hits] == ["table", "gold passage 2"]
    assert all(h.sparse_score == 1.0 and h.dense_score is None for h in hits)  # passes the gate
    assert FixedHits(hits).search("other", k=1, filters=SearchFilters(kbs=("kb",)), principal=None) == hits
