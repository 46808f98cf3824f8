"""Checked streaming, as a property: whatever the model writes and however its text is cut into
deltas, every piece shown while streaming is part of the final answer (the shown pieces, joined, are
the answer), no shown piece cites a passage that does not support it, and an answer that ends as a
quote, a holding reply or an abstention showed nothing before."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generation.answerer import Answerer, AskHooks
from generation.backends.base import Generation
from generation.sentences import SentenceSplitter, _pieces
from generation.streaming import ShownPiece
from generation.support import SupportChecker, SupportConfig
from tests.generation.test_citations import FILTERS, HITS, ME, FixedRetriever

SENTENCES = [
    "Employees accrue 1.5 vacation days per month [1].",  # supported
    "Claims must be submitted within 90 days of the date of service. [2]",  # supported, marker after
    "Up to 18 days per year [1].",  # supported
    "Employees accrue 1.5 vacation days per month.",  # supported once the marker is added
    "Claims must be filed within 60 days [2].",  # wrong number
    "Dental implants are fully covered [1].",  # not in the sources
    "The gym is open on Sundays [7].",  # phantom citation, unsupported
    "Hi there!",
    "Let me know if you have any questions.",
    "Vacation days:\n- 1.5 per month [1]\n- up to 18 per year [1]",  # a list
    "NOT_IN_SOURCES",
    "[1]",
]


class ChunkedScript:
    """A fake model that streams a fixed reply cut at the given offsets."""

    name = "chunked"

    def __init__(self, reply: str, cuts: list[int]) -> None:
        self.reply = reply
        self.cuts = sorted({c for c in cuts if 0 < c < len(reply)})

    def complete(self, messages, **kwargs) -> Generation:  # type: ignore[no-untyped-def]
        return Generation(self.reply, 1, 1, 0.0, 0.0, "stop")

    def stream(self, messages, **kwargs) -> Iterator[str]:  # type: ignore[no-untyped-def]
        bounds = [0, *self.cuts, len(self.reply)]
        for start, end in zip(bounds, bounds[1:], strict=False):
            yield self.reply[start:end]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


replies = st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=6).map(" ".join)
cuts = st.lists(st.integers(min_value=1, max_value=400), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reply=replies, cut_at=cuts, task=st.sampled_from(["answer", "draft_reply"]))
def test_every_streamed_piece_is_in_the_final_answer(reply: str, cut_at: list[int], task: str) -> None:
    shown: list[ShownPiece] = []
    answerer = Answerer(FixedRetriever(HITS), ChunkedScript(reply, cut_at))
    answer = answerer.ask("vacation?", filters=FILTERS, principal=ME, task=task,
                          hooks=AskHooks(on_piece=shown.append))  # fmt: skip
    for piece in shown:
        assert piece.delta in answer.text
    if shown:
        assert answer.kind == "generated" and "".join(p.delta for p in shown) == answer.text
    else:
        assert answer.kind != "generated" or task == "draft_reply"
    checker = SupportChecker(SupportConfig(min_similarity=None))
    evidence = checker.evidence(HITS)
    for piece in shown:
        if piece.citations:
            assert checker.check(piece.delta.strip(), evidence).supported
            assert all(1 <= c.n <= len(HITS) for c in piece.citations)
    assert "NOT_IN_SOURCES" not in answer.text and "[7]" not in answer.text


@given(text=replies, cut_at=cuts)
def test_the_splitter_finds_the_same_sentences_however_the_text_arrives(text: str, cut_at: list[int]) -> None:
    splitter = SentenceSplitter()
    bounds = [0, *sorted({c for c in cut_at if 0 < c < len(text)}), len(text)]
    found = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        found += splitter.feed(text[start:end])
    found += splitter.flush()
    assert found == _pieces(text)
