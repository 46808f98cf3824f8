"""Checked streaming: the model's text is cut into sentences as it arrives, each sentence is checked
against the sources, and only sentences that pass are shown, with their citations. What is shown is
never withdrawn: the final answer is exactly the shown pieces, in order.

Greetings and other sentences without a factual claim are held back until a checked claim follows
(a reply that ends up with no supported claim shows none of them); unsupported sentences are never
shown and are reported instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from core.errors import KBError
from core.types import Citation
from generation.citations import citation_for
from generation.prompts import NOT_COVERED
from generation.sentences import Piece, SentenceSplitter, cited_numbers, is_bare_citation, strip_phantoms
from generation.support import Evidence, SupportChecker


class AnswerCancelled(KBError):
    """The asker stopped the answer (the Stop button, or the connection closed)."""


@dataclass(frozen=True)
class ShownPiece:
    """Text the user may see now: ``delta`` (with its leading separator) and the sources it cites."""

    delta: str
    citations: tuple[Citation, ...] = ()


@dataclass
class CheckedText:
    """What the checked stream showed, and what it left out."""

    shown: list[str] = field(default_factory=list)  # the deltas, in order; "".join(shown) is the text
    claims: int = 0  # shown sentences that passed a support check (not greetings)
    unsupported: list[str] = field(default_factory=list)
    removed_citations: int = 0
    declined: bool = False  # the model said the sources do not cover the question
    raw: str = ""
    first_token_ms: float | None = None
    first_shown_ms: float | None = None
    # CPU seconds the process spent until then: on a shared machine, the load-independent measure
    first_token_cpu_ms: float | None = None
    first_shown_cpu_ms: float | None = None
    prompt_tokens: int = 0  # the prompt's size, which the first-token time mostly depends on

    @property
    def text(self) -> str:
        return "".join(self.shown)


def _declines(text: str) -> bool:
    return NOT_COVERED.lower() in text.lower().replace(" ", "_")


class CheckedStream:
    """Turns a stream of model deltas into checked, shown pieces (``on_piece``)."""

    def __init__(
        self,
        checker: SupportChecker,
        evidence: Evidence,
        *,
        on_piece: Callable[[ShownPiece], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        started: float | None = None,
        started_cpu: float | None = None,
    ) -> None:
        self.checker = checker
        self.evidence = evidence
        self.on_piece = on_piece
        self.should_stop = should_stop
        self.started = started if started is not None else time.perf_counter()
        self.started_cpu = started_cpu if started_cpu is not None else time.process_time()
        self.result = CheckedText()
        self._held: list[Piece] = []
        self._seen: set[str] = set()

    def _elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)

    def _cpu_ms(self) -> float:
        return round((time.process_time() - self.started_cpu) * 1000, 1)

    def run(self, deltas: Iterator[str]) -> CheckedText:
        """Read the model's deltas to the end (or until it declines); returns what was shown."""
        splitter = SentenceSplitter()
        try:
            for delta in deltas:
                if self.should_stop is not None and self.should_stop():
                    raise AnswerCancelled("the answer was stopped")
                if self.result.first_token_ms is None:
                    self.result.first_token_ms = self._elapsed_ms()
                    self.result.first_token_cpu_ms = self._cpu_ms()
                self.result.raw += delta
                if _declines(self.result.raw):
                    self.result.declined = True
                    break
                for piece in splitter.feed(delta):
                    self._take(piece)
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()  # stops the model (and frees it for the next request) when we stop early
        if not self.result.declined:
            for piece in splitter.flush():
                self._take(piece)
        return self.result

    def _take(self, piece: Piece) -> None:
        text, removed = strip_phantoms(piece.text, len(self.evidence.hits))
        self.result.removed_citations += removed
        text = text.strip()
        key = " ".join(text.lower().split())
        if not text or is_bare_citation(text) or key in self._seen:
            return
        self._seen.add(key)
        check = self.checker.check(text, self.evidence)
        if check.dropped_items:  # shown without the list items the sources lack; those are reported
            self.result.unsupported.append(check.dropped_items)
        if not check.supported:
            self.result.unsupported.append(check.text)
            return
        if not check.cited:  # a greeting or a sentence without a claim
            if self.result.claims:
                self._show(Piece(check.text, piece.separator))
            else:
                self._held.append(Piece(check.text, piece.separator))
            return
        for held in self._held:
            self._show(held)
        self._held = []
        self.result.claims += 1
        self._show(Piece(check.text, piece.separator))

    def _show(self, piece: Piece) -> None:
        delta = (piece.separator if self.result.shown else "") + piece.text
        self.result.shown.append(delta)
        if self.result.first_shown_ms is None:
            self.result.first_shown_ms = self._elapsed_ms()
            self.result.first_shown_cpu_ms = self._cpu_ms()
        if self.on_piece is not None:
            hits = self.evidence.hits
            citations = tuple(
                citation_for(n, hits[n - 1], [piece.text])
                for n in cited_numbers(piece.text)
                if 1 <= n <= len(hits)
            )
            self.on_piece(ShownPiece(delta, citations))
