"""Grounded answering: condense → retrieve (permission-filtered) → abstain or generate → check citations."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.types import Answer, Hit, Principal
from generation.backends.base import Generator
from generation.citations import attribute_citations, build_citations, check_answer, strip_phantoms
from generation.prompts import NOT_COVERED, build_messages, condense_messages
from retrieval.filters import SearchFilters

ABSTAIN_TEXT = (
    "The knowledge base does not cover this question, so I can't answer it reliably. "
    "The closest sources are listed below."
)


class SearchesKnowledge(Protocol):
    def search(
        self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None
    ) -> list[Hit]: ...


@dataclass(frozen=True)
class AnswerConfig:
    """Answering knobs (from Settings). ``min_evidence`` is the lowest dense cosine of the best
    passage that still counts as evidence; below it the answer abstains without calling the LLM."""

    k: int = 3
    min_evidence: float = 0.35
    max_tokens: int = 384
    min_supported: float = 0.5
    temperature: float = 0.0


class Answerer:
    """Answers questions from the passages the asker may read, with checked [n] citations."""

    def __init__(
        self, retriever: SearchesKnowledge, generator: Generator, config: AnswerConfig | None = None
    ):
        self.retriever = retriever
        self.generator = generator
        self.config = config or AnswerConfig()

    def condense(self, question: str, history: list[dict[str, str]] | None) -> str:
        """A standalone version of a follow-up question (unchanged when there is no history)."""
        if not history:
            return question
        out = self.generator.complete(condense_messages(history, question), max_tokens=96).text.strip()
        out = out.strip().strip('"').splitlines()[0] if out.strip() else ""
        return out if 3 <= len(out) <= 500 else question

    def ask(
        self,
        question: str,
        *,
        filters: SearchFilters,
        principal: Principal | None,
        scenario: str = "employee",
        tone: str = "friendly",
        history: list[dict[str, str]] | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        start = time.perf_counter()
        query = self.condense(question, history)
        hits = self.retriever.search(query, k=self.config.k, filters=filters, principal=principal)
        retrieval_ms = (time.perf_counter() - start) * 1000
        timings = {"retrieval_ms": round(retrieval_ms, 1)}
        evidence = self._evidence(hits)
        if not hits or evidence < self.config.min_evidence:
            return self._abstain(query, hits, timings, start)

        messages = build_messages(query, hits, scenario=scenario, tone=tone)
        pieces: list[str] = []
        first_token_ms = None
        for delta in self.generator.stream(
            messages, max_tokens=self.config.max_tokens, temperature=self.config.temperature
        ):
            if first_token_ms is None:
                first_token_ms = (time.perf_counter() - start) * 1000
            pieces.append(delta)
            if on_token:
                on_token(delta)
        raw = "".join(pieces).strip()
        gen_s = time.perf_counter() - start - retrieval_ms / 1000
        timings["first_token_ms"] = round(first_token_ms or 0.0, 1)
        tokens = self.generator.count_tokens(raw) if raw else 0
        timings["tokens_per_s"] = round(tokens / gen_s, 2) if gen_s > 0 else 0.0
        if not raw or NOT_COVERED.lower() in raw.lower().replace(" ", "_"):
            return self._abstain(query, hits, timings, start)

        text, phantoms = strip_phantoms(raw, len(hits))
        text = attribute_citations(text, hits)
        checks = check_answer(text, hits)
        factual = [c for c in checks if c.reason != "no factual claim"]
        supported = [c for c in factual if c.supported]
        if not factual or len(supported) / len(factual) < self.config.min_supported:
            return self._abstain(query, hits, timings, start)
        timings["total_ms"] = round((time.perf_counter() - start) * 1000, 1)
        return Answer(
            text=text,
            abstained=False,
            citations=tuple(build_citations(checks, hits)),
            unsupported_sentences=tuple(c.text for c in factual if not c.supported),
            sources=tuple(hits),
            timings=timings,
            query=query,
        )

    def _evidence(self, hits: list[Hit]) -> float:
        """Best dense cosine among the hits; hits found by BM25 alone (exact terms, no dense score)
        count as just enough evidence to let the model and the citation checker decide."""
        dense = [h.dense_score for h in hits if h.dense_score is not None]
        if dense:
            return max(dense)
        return self.config.min_evidence if any(h.sparse_score for h in hits) else 0.0

    def _abstain(self, query: str, hits: list[Hit], timings: dict[str, float], start: float) -> Answer:
        timings["total_ms"] = round((time.perf_counter() - start) * 1000, 1)
        return Answer(
            text=ABSTAIN_TEXT,
            abstained=True,
            citations=(),
            unsupported_sentences=(),
            sources=tuple(hits[:3]),
            timings=timings,
            query=query,
        )
