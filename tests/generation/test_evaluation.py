"""Answer-evaluation figures on scripted answers."""

from __future__ import annotations

import json
from pathlib import Path

from core.types import Answer, Citation, Hit
from generation.evaluation import QAItem, evaluate_answers, read_qa, token_f1

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
