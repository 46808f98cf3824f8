"""Grounded answering, as small stages: condense → retrieve (permission-filtered) → evidence gate →
read (each passage cut to its relevant sentences) → generate with checked streaming → fall back to a
quote, a holding reply (customer drafts) or an abstention with the closest sources.

Each stage is a method with plain inputs and outputs, so later stages (number computation, entity and
period routing) can be added between them without touching the others.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from core.text_match import language_of
from core.types import Answer, Citation, Hit, Principal
from generation.backends.base import Generator
from generation.citations import build_citations, citation_for, closest_sources, page_end_of, section_of
from generation.context import group_passages, relevance, select_context
from generation.extractive import ExtractiveAnswerer, Quote, QuoteConfig
from generation.lookup import look_up
from generation.numeric import NumericAnswerer
from generation.product_facts import ProductFactAnswerer, readable
from generation.prompts import LANGUAGES, AnswerTexts, build_messages, condense_messages, texts
from generation.sentences import split_sentences
from generation.streaming import CheckedStream, CheckedText, ShownPiece
from generation.support import Embed, Evidence, SupportChecker, SupportConfig
from retrieval.filters import SearchFilters
from retrieval.routing import QueryRouter, Route
from retrieval.table_rows import question_terms

ABSTAIN_TEXT = texts().abstain

# Stages reported while an answer is prepared (``on_stage``), so a waiting user sees progress.
STAGES = ("condensing", "searching", "reading", "writing", "checking")


class SearchesKnowledge(Protocol):
    def search(
        self, query: str, *, k: int, filters: SearchFilters, principal: Principal | None
    ) -> list[Hit]: ...


@dataclass(frozen=True)
class AnswerConfig:
    """Answering knobs (from Settings). ``min_evidence`` is the lowest dense cosine of the best
    passage that still counts as evidence; below it the answer abstains without calling the LLM.
    ``context_tokens`` is what the passages may take of the prompt, together."""

    k: int = 3
    min_evidence: float = 0.35
    max_tokens: int = 384
    temperature: float = 0.0
    context_tokens: int = 200
    compute: bool = True  # calculation questions over tables: the model picks cells, Python computes
    support: SupportConfig = field(default_factory=SupportConfig)
    quote: QuoteConfig = field(default_factory=QuoteConfig)


@dataclass(frozen=True)
class AnswerProfile:
    """What the checks of one knowledge base's answers use: its embedding model and the thresholds
    calibrated in that model's cosine scale (``core.embedders``)."""

    embed: Embed
    min_evidence: float
    support_similarity: float | None
    quote_similarity: float


@dataclass
class AskHooks:
    """Callbacks of one ``ask``: shown pieces, stage changes, and a stop check (the Stop button)."""

    on_piece: Callable[[ShownPiece], None] | None = None
    on_stage: Callable[[str], None] | None = None
    should_stop: Callable[[], bool] | None = None

    def stage(self, name: str) -> None:
        if self.on_stage is not None:
            self.on_stage(name)


@dataclass(frozen=True)
class Clock:
    """When a question arrived: wall-clock and process CPU time (the CPU time is what a shared
    machine's load does not inflate)."""

    wall: float
    cpu: float

    @classmethod
    def start(cls) -> Clock:
        return cls(time.perf_counter(), time.process_time())

    def ms(self) -> float:
        return round((time.perf_counter() - self.wall) * 1000, 1)

    def cpu_ms(self) -> float:
        return round((time.process_time() - self.cpu) * 1000, 1)


@dataclass
class Reading:
    """The passages of one question, prepared for the model and for the checks."""

    query: str
    hits: list[Hit]
    evidence: Evidence
    shown_texts: list[str]


class Answerer:
    """Answers questions from the passages the asker may read, showing only checked sentences."""

    def __init__(
        self,
        retriever: SearchesKnowledge,
        generator: Generator,
        config: AnswerConfig | None = None,
        *,
        embed: Embed | None = None,
        condenser: Generator | None = None,
        language: str = "en",
        router: QueryRouter | None = None,
        profiles: Callable[[tuple[str, ...]], AnswerProfile] | None = None,
    ):
        self.retriever = retriever
        self.router = router
        self.generator = generator
        self.condenser = condenser or generator
        self.config = config or AnswerConfig()
        self.embed = embed
        self.checker = SupportChecker(self.config.support, embed)
        self.extractive = ExtractiveAnswerer(self.config.quote, embed)
        self.product_facts = ProductFactAnswerer(embed)
        self.language = language
        self.texts: AnswerTexts = texts(language)
        self.profiles = profiles  # per searched bases: their embedder and its thresholds

    def for_question(self, kbs: tuple[str, ...], question: str) -> Answerer:
        """This answerer speaking the question's language, with the embedder and thresholds of the
        bases asked (itself when both already fit)."""
        out = self
        language = language_of(question)
        if language != self.language and language in LANGUAGES:
            out = copy.copy(self)
            out.language, out.texts = language, texts(language)
        if self.profiles is None:
            return out
        profile = self.profiles(kbs)
        cfg = self.config
        config = replace(
            cfg,
            min_evidence=profile.min_evidence,
            support=replace(cfg.support, min_similarity=profile.support_similarity),
            quote=replace(cfg.quote, min_similarity=profile.quote_similarity),
        )
        other = copy.copy(out)
        other.profiles = None
        other.config = config
        other.embed = profile.embed
        other.checker = SupportChecker(config.support, profile.embed)
        other.extractive = ExtractiveAnswerer(config.quote, profile.embed)
        other.product_facts = ProductFactAnswerer(profile.embed)
        return other

    def using(
        self,
        *,
        retriever: SearchesKnowledge | None = None,
        generator: Generator | None = None,
        routed: bool = True,
    ) -> Answerer:
        """The same answerer with another retriever (e.g. fixed gold passages) or generator (e.g. one
        that records or replays the model's text), for evaluation; ``routed=False`` drops routing."""
        other = copy.copy(self)
        other.retriever = retriever or self.retriever
        other.generator = generator or self.generator
        other.router = self.router if routed else None
        return other

    def warm_up(self, scenarios: tuple[str, ...] = ("employee",)) -> None:
        """Load the models and read each scenario's fixed prompt prefix once, so the first question
        does not pay for it (later questions reuse it from the model's cache)."""
        if self.embed is not None:
            self.embed(["warm up"])
        for scenario in scenarios:
            messages = build_messages("Hello?", [], scenario=scenario)
            self.generator.complete(messages, max_tokens=1)

    # ------------------------------------------------------------------ stages
    def condense(self, question: str, history: list[dict[str, str]] | None) -> str:
        """A standalone version of a follow-up question (unchanged when there is no history)."""
        if not history:
            return question
        out = self.condenser.complete(condense_messages(history, question), max_tokens=96).text.strip()
        out = out.strip('"').splitlines()[0].strip() if out else ""
        return out if 3 <= len(out) <= 500 else question

    def route(self, query: str, filters: SearchFilters, principal: Principal | None) -> Route:
        """Where to search: narrowed to the company or product the question names, boosted to the
        period it names; ``missing_entity`` when it names a company the base does not hold."""
        if self.router is None:
            return Route(filters)
        return self.router.route(query, filters, principal)

    def retrieve(
        self, query: str, filters: SearchFilters, principal: Principal | None, route: Route | None = None
    ) -> list[Hit]:
        """The ``k`` best sources: passages of one page (or section) count as one source."""
        route = route or Route(filters)
        want = 2 * self.config.k
        found = self.retriever.search(
            query, k=route.candidate_k(want), filters=route.filters, principal=principal
        )
        return group_passages(route.rank(found, want), self.config.k)

    def has_evidence(self, hits: list[Hit]) -> bool:
        """Best dense cosine among the hits clears ``min_evidence``; hits found by BM25 alone (exact
        terms, no dense score) count as just enough to let the model and the checks decide."""
        dense = [h.dense_score for h in hits if h.dense_score is not None]
        if dense:
            return max(dense) >= self.config.min_evidence
        return any(h.sparse_score for h in hits)

    def read(self, query: str, hits: list[Hit], route: Route | None = None) -> Reading:
        """Split and embed the passages once; keep each one's sentences most relevant to ``query``
        (the table rows it names among them, ``route.table_terms``)."""
        evidence = self.checker.evidence(hits, query)
        vector = self.embed([query])[0] if self.embed is not None else None
        scores = relevance(query, vector, evidence, route.table_terms if route is not None else frozenset())
        shown = select_context(
            scores,
            evidence,
            budget_tokens=self.config.context_tokens,
            count_tokens=self.generator.count_tokens,
        )
        return Reading(query, hits, evidence, shown)

    def write(
        self,
        reading: Reading,
        scenario: str,
        tone: str,
        task: str,
        hooks: AskHooks,
        clock: Clock,
    ) -> CheckedText:
        """Generate, showing each sentence once it has passed the checks (timed from ``clock``)."""
        messages = build_messages(
            reading.query, reading.hits, scenario=scenario, tone=tone, task=task,
            texts_shown=reading.shown_texts, language=self.language,
        )  # fmt: skip
        # A reply draft is reviewed whole before it is sent, and may still become a holding reply:
        # nothing of it is shown while it is written.
        stream = CheckedStream(
            self.checker,
            reading.evidence,
            on_piece=hooks.on_piece if task == "answer" else None,
            should_stop=hooks.should_stop,
            started=clock.wall,
            started_cpu=clock.cpu,
        )
        deltas = self.generator.stream(
            messages, max_tokens=self.config.max_tokens, temperature=self.config.temperature
        )
        written = stream.run(deltas)
        written.prompt_tokens = sum(self.generator.count_tokens(m["content"]) for m in messages)
        return written

    def usable(self, written: CheckedText, task: str) -> bool:
        """An answer stands on any checked claim. A customer reply must stand on mostly checked
        claims: when most of what the model wanted to tell the customer is unsupported, the policies
        do not cover the message, and a holding reply is safer than a reply that evades it."""
        if task == "draft_reply":
            return written.claims > 0 and written.claims >= len(written.unsupported)
        return written.claims > 0

    def compute(self, reading: Reading, timings: dict[str, float], clock: Clock) -> Answer | None:
        """A calculation question over table passages, answered with the model's choice of cells and
        operation and Python's result (inputs, formula, result); None when it is no such question."""
        computed, _ = NumericAnswerer(self.generator).answer(reading.query, reading.hits)
        return _from_tables(computed.text(), "computed", reading, timings, clock) if computed else None

    def read_table(
        self, reading: Reading, route: Route, timings: dict[str, float], clock: Clock
    ) -> Answer | None:
        """A figure question answered by the cells of the table rows it names, in the period it
        names, read in Python (None when no row is named or the period has no single reading)."""
        # Outside one company's documents nothing was lifted, but the passages read may still hold
        # the row the question names (a report's own table, gold context).
        terms = route.table_terms or question_terms(reading.query)
        found = look_up(reading.query, reading.hits, terms)
        return _from_tables(found.text(), "table", reading, timings, clock) if found else None

    def product_fact(
        self, reading: Reading, timings: dict[str, float], clock: Clock, written: CheckedText
    ) -> Answer | None:
        """A retail question the model's answer failed on, answered by the product fact that bears on
        it (with a yes/no verdict read off it) or a shopper's opinion labelled as one."""
        fact = self.product_facts.find(reading.query, reading.evidence)
        if fact is None:
            return None
        verdict = self.product_facts.verdict(self.generator, reading.query, fact)
        said = self.texts.product_quote[fact.kind].format(quote=readable(fact.sentence).rstrip("."))
        text = f"{verdict + '. ' if verdict else ''}{said} [{fact.n}]."
        found = Quote(fact.n, (fact.sentence,), fact.score)
        shown = {"first_shown_ms": clock.ms(), "first_shown_cpu_ms": clock.cpu_ms()}
        return Answer(
            text=text,
            abstained=False,
            citations=(_quote_citation(found, reading.hits[fact.n - 1]),),
            unsupported_sentences=tuple(written.unsupported),
            sources=tuple(reading.hits),
            timings={**timings, **shown, "total_ms": shown["first_shown_ms"]},
            query=reading.query,
            removed_citations=written.removed_citations,
            kind="quoted",
        )

    def quote(self, reading: Reading) -> Quote | None:
        return self.extractive.find(reading.query, reading.evidence)

    # ------------------------------------------------------------------ the whole answer
    def ask(
        self,
        question: str,
        *,
        filters: SearchFilters,
        principal: Principal | None,
        scenario: str = "employee",
        tone: str = "friendly",
        task: str = "answer",
        history: list[dict[str, str]] | None = None,
        hooks: AskHooks | None = None,
    ) -> Answer:
        """Answer ``question`` (or, with ``task="draft_reply"``, draft a reply to a customer message)."""
        speaker = self.for_question(filters.kbs, question)
        if speaker is not self:
            return speaker.ask(
                question, filters=filters, principal=principal, scenario=scenario, tone=tone,
                task=task, history=history, hooks=hooks,
            )  # fmt: skip
        hooks = hooks or AskHooks()
        clock = Clock.start()
        timings: dict[str, float] = {}
        if history:
            hooks.stage("condensing")
        query = self.condense(question, history)
        hooks.stage("searching")
        route = self.route(query, filters, principal)
        timings["retrieval_ms"] = clock.ms()
        if route.missing_entity:
            return self._not_held(query, route.missing_entity, task, tone, timings, clock)
        hits = self.retrieve(query, filters, principal, route)
        timings["retrieval_ms"] = clock.ms()
        if not hits:
            return self._fallback(query, hits, None, task, tone, timings, clock)
        if not self.has_evidence(hits):  # not worth the model's time; a passage may still answer
            hooks.stage("checking")
            return self._fallback(query, hits, self.read(query, hits, route), task, tone, timings, clock)
        hooks.stage("reading")
        reading = self.read(query, hits, route)
        timings["reading_ms"] = clock.ms() - timings["retrieval_ms"]
        if task == "answer" and self.config.compute:
            if scenario == "finance":  # a figure read off a statement's row
                read = self.read_table(reading, route, timings, clock)
                if read is not None:
                    return read
            computed = self.compute(reading, timings, clock)
            if computed is not None:
                return computed
        hooks.stage("writing")
        written = self.write(reading, scenario, tone, task, hooks, clock)
        timings.update(_stream_timings(written, clock, self.generator))
        if self.usable(written, task):
            text = written.text
            notice = ""
            if task == "draft_reply" and written.unsupported:
                notice = self.texts.notice_left_out.format(count=len(written.unsupported))
            return Answer(
                text=text,
                abstained=False,
                citations=tuple(build_citations(split_sentences(text), hits)),
                unsupported_sentences=tuple(written.unsupported),
                sources=tuple(hits),
                timings={**timings, "total_ms": clock.ms()},
                query=query,
                removed_citations=written.removed_citations,
                kind="generated",
                notice=notice,
            )
        hooks.stage("checking")
        if scenario == "retail" and task == "answer":
            fact = self.product_fact(reading, timings, clock, written)
            if fact is not None:
                return fact
        return self._fallback(query, hits, reading, task, tone, timings, clock, written)

    def _fallback(
        self,
        query: str,
        hits: list[Hit],
        reading: Reading | None,
        task: str,
        tone: str,
        timings: dict[str, float],
        clock: Clock,
        written: CheckedText | None = None,
    ) -> Answer:
        """Nothing the model wrote could be shown: a quote from a passage that answers, else an
        abstention (a holding reply for customer drafts) with the closest sources."""
        # A customer is never sent a bare quote: an agent would have to explain it first.
        found = self.quote(reading) if reading is not None and task == "answer" else None
        unsupported = tuple(written.unsupported) if written else ()
        removed = written.removed_citations if written else 0
        if found is not None:
            text = self._quote_text(found, hits)
            hit = hits[found.n - 1]
            citation = _quote_citation(found, hit)
            shown = {"first_shown_ms": clock.ms(), "first_shown_cpu_ms": clock.cpu_ms()}
            timings = {**timings, **shown, "total_ms": shown["first_shown_ms"]}
            return Answer(
                text=text,
                abstained=False,
                citations=(citation,),
                unsupported_sentences=unsupported,
                sources=tuple(hits),
                timings=timings,
                query=query,
                removed_citations=removed,
                kind="quoted",
            )
        if task == "draft_reply":
            text, notice = self.texts.holding_reply[tone], self.texts.notice_not_covered
        else:
            text, notice = self.texts.abstain, ""
        return Answer(
            text=text,
            abstained=True,
            citations=(),
            unsupported_sentences=unsupported,
            sources=tuple(hits),
            timings={**timings, "total_ms": clock.ms()},
            query=query,
            removed_citations=removed,
            kind="abstained",
            notice=notice,
            closest=tuple(closest_sources(query, hits)),
        )

    def _not_held(
        self, query: str, entity: str, task: str, tone: str, timings: dict[str, float], clock: Clock
    ) -> Answer:
        """An abstention that says why: the question names a company no readable document is about.
        No closest sources: another company's passages would only invite the wrong answer."""
        not_held = self.texts.not_held.format(entity=entity)
        text, notice = (self.texts.holding_reply[tone], not_held) if task == "draft_reply" else (not_held, "")
        return Answer(
            text=text,
            abstained=True,
            citations=(),
            unsupported_sentences=(),
            sources=(),
            timings={**timings, "total_ms": clock.ms()},
            query=query,
            kind="abstained",
            notice=notice,
        )

    def _quote_text(self, found: Quote, hits: list[Hit]) -> str:
        """The answer text of a quote from passage ``found.n``, labelled with where it comes from."""
        hit = hits[found.n - 1]
        quoted = " ".join(_LIST_MARKER.sub("", s) for s in found.sentences)
        page_end = page_end_of(hit)
        if hit.page and page_end:
            where = self.texts.where_pages.format(page=hit.page, page_end=page_end)
        elif hit.page:
            where = self.texts.where_page.format(page=hit.page)
        elif section_of(hit):
            where = self.texts.where_section.format(section=section_of(hit))
        else:
            where = ""
        text = self.texts.quote.format(title=hit.title or hit.source, where=where, quote=quoted)
        return f"{text}{'' if self.language == 'zh' else ' '}[{found.n}]"


def _from_tables(text: str, kind: str, reading: Reading, timings: dict[str, float], clock: Clock) -> Answer:
    """An answer worked out from table cells in Python (shown whole, at once), citing its passages."""
    shown = {"first_shown_ms": clock.ms(), "first_shown_cpu_ms": clock.cpu_ms()}
    return Answer(
        text=text,
        abstained=False,
        citations=tuple(build_citations(split_sentences(text), reading.hits)),
        unsupported_sentences=(),
        sources=tuple(reading.hits),
        timings={**timings, **shown, "total_ms": shown["first_shown_ms"]},
        query=reading.query,
        kind=kind,
    )


def _quote_citation(found: Quote, hit: Hit) -> Citation:
    """The citation of a quote: its snippet is the quoted text itself."""
    quoted = " ".join(found.sentences)
    start = hit.char_start + max(hit.text.find(found.sentences[0]), 0)
    return replace(
        citation_for(found.n, hit, list(found.sentences)),
        snippet=quoted,
        char_start=start,
        char_end=min(hit.char_end, start + len(quoted)),
    )


_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def _stream_timings(written: CheckedText, clock: Clock, generator: Generator) -> dict[str, float]:
    out: dict[str, float] = {}
    if written.first_token_ms is not None:
        out["first_token_ms"] = written.first_token_ms
        gen_s = (time.perf_counter() - clock.wall) - written.first_token_ms / 1000
        tokens = generator.count_tokens(written.raw) if written.raw else 0
        out["tokens_per_s"] = round(tokens / gen_s, 2) if gen_s > 0 else 0.0
    if written.first_shown_ms is not None:
        out["first_shown_ms"] = written.first_shown_ms
    for key in ("first_token_cpu_ms", "first_shown_cpu_ms"):
        if getattr(written, key) is not None:
            out[key] = getattr(written, key)
    out["prompt_tokens"] = written.prompt_tokens
    return out
