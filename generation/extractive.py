"""Quoted answers: when the model's answer cannot be verified but a retrieved passage does answer the
question, answer with one to three of that passage's sentences, verbatim, labelled as a quote.

A passage "answers" when (1) every specific term of the question (names, codes, numbers: what would
make it another product or company) appears in the passage, its title or the names its document's
facts give, (2) enough of the question's key terms do, and (3) one of its sentences is close to what is
asked. For (3) the terms the passage's title already names are taken out of the question first:
every sentence of a product sheet mentions the product, so only the rest of the question ("suitable
for kids?") tells its sentences apart; a sentence's score is the mean of its cosines to the whole
question and to that rest.
Thresholds are calibrated so that unanswerable questions still get no answer (docs/benchmarks.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.facts import document_names
from core.text_tokenize import tokenize
from generation.figures import reporting_span
from generation.numeric import duration_of
from generation.sentences import LIST_ITEM, is_title_case, numbers_in
from generation.support import Embed, Evidence, content_terms

_QUESTION_WORDS = frozenset(
    {
        *("what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was"),
        *("were", "do", "does", "did", "can", "could", "should", "would", "will", "may", "might"),
        *("much", "many", "any", "there"),
    }
)
_SPECIFIC = re.compile(r"\b(?:[A-Z][A-Za-z0-9&.\-]*[A-Z0-9][A-Za-z0-9&.\-]*|[A-Z][a-z]+(?:[A-Z][a-z]+)+)\b")


@dataclass(frozen=True)
class QuoteConfig:
    """When a passage may be quoted as the answer."""

    min_similarity: float = 0.35  # best sentence ↔ the question's aspect (cosine)
    min_coverage: float = 0.25  # share of the question's key terms in the passage and its title
    max_sentences: int = 3
    max_words: int = 70
    companion_margin: float = 0.05  # other sentences quoted with the best one score within this


@dataclass(frozen=True)
class Quote:
    """The passage (1-based ``n``) and its sentences quoted, in their original order."""

    n: int
    sentences: tuple[str, ...]
    similarity: float


def specific_terms(question: str) -> set[str]:
    """Names, codes and numbers in a question (acronyms, CamelCase, capitalised words past the first
    word, digits), as search terms: the things a passage about something else would lack."""
    words = question.split()
    rest = " ".join(words[1:])  # the first word is capitalised anyway
    found = {m.group(0) for m in _SPECIFIC.finditer(rest)}
    found |= {w.strip("?.,!:;()'\"") for w in words[1:] if w[:1].isupper()}
    terms = {t for f in found for t in tokenize(f) if len(t) > 1 and t not in _QUESTION_WORDS}
    # Years name a period (another year's figures do not answer); other numbers in a question often
    # describe the asker ("my son is 36 inches tall"), not what the answer must contain.
    return terms | {n for n in numbers_in(question) if re.fullmatch(r"(19|20)\d\d", n)}


def _aspect(question: str, title: str) -> str:
    """The question without the words its passage's title already names."""
    named = set(tokenize(title))
    kept = [w for w in question.split() if not (set(tokenize(w)) and set(tokenize(w)) <= named)]
    return " ".join(kept) if len(kept) >= 2 else question


class ExtractiveAnswerer:
    """Finds a passage sentence that answers the question, for a quoted answer."""

    def __init__(self, config: QuoteConfig | None = None, embed: Embed | None = None) -> None:
        self.config = config or QuoteConfig()
        self.embed = embed

    def covers(self, question: str, evidence: Evidence, n: int) -> bool:
        """Whether passage ``n`` is about what the question asks about (conditions 1 and 2)."""
        hit = evidence.hits[n - 1]
        # a filing's passages say "the Company": the names its document's facts give count as named
        where = f"{hit.title} {hit.source} {' '.join(document_names(hit.metadata))} {hit.text}"
        have = set(tokenize(where)) | numbers_in(where)
        if not specific_terms(question) <= have:
            return False
        wanted = content_terms(question) - _QUESTION_WORDS
        return not wanted or len(wanted & content_terms(where)) / len(wanted) >= self.config.min_coverage

    def find(self, question: str, evidence: Evidence) -> Quote | None:
        """The best quote from any passage, or None when no passage answers the question."""
        if self.embed is None or not evidence.hits:
            return None
        candidates = [n for n in range(1, len(evidence.hits) + 1) if evidence.units[n - 1]]
        candidates = [n for n in candidates if self.covers(question, evidence, n)]
        if not candidates:
            return None
        vectors = self.embed([question] + [_aspect(question, evidence.hits[n - 1].title) for n in candidates])
        quotes = [
            self._quote(n, evidence, (vectors[0] + aspect) / 2, question)
            for n, aspect in zip(candidates, vectors[1:], strict=True)
        ]
        found = [q for q in quotes if q is not None]
        # A quote stating its figures for another span than the question asks ("During the nine
        # months ended …" for "in Q3") gives way to one that does not, whatever their similarity.
        asked = duration_of(question)

        def in_period(quote: Quote) -> bool:
            spans = {reporting_span(s) for s in quote.sentences} - {None}
            return asked is None or not spans or spans == {asked}

        return max(found, key=lambda q: (in_period(q), q.similarity), default=None)

    def _quote(self, n: int, evidence: Evidence, asked: np.ndarray, question: str) -> Quote | None:
        units = evidence.units[n - 1]
        scores = evidence.vectors()[n - 1] @ asked
        order = np.argsort(-scores)
        top = int(order[0])
        if scores[top] < self.config.min_similarity or _is_heading(units[top]):
            return None
        lead = _lead_in(units, top)
        # "Non-fitness related expenses" reads like an answer to "which fitness expenses are covered?"
        # until its list's lead-in says these are *not* covered: a quote never flips the question.
        if lead and _negated(" ".join(units[i] for i in [*lead, top])) != _negated(question):
            return None
        chosen = [*lead, top]
        words = sum(len(units[i].split()) for i in chosen)
        for i in (int(j) for j in order[1:]):
            if len(chosen) == self.config.max_sentences:
                break
            if scores[i] < scores[top] - self.config.companion_margin or _is_heading(units[i]):
                continue
            if i in chosen or _lead_in(units, i) != lead:  # only sentences that read the same way
                continue
            if words + len(units[i].split()) > self.config.max_words:
                continue
            chosen.append(i)
            words += len(units[i].split())
        return Quote(n, tuple(units[i] for i in sorted(chosen)), float(scores[top]))


_NEGATION = re.compile(
    r"\b(?:not|no|never|none|excluded|excludes|except|without|cannot|isn't|aren't|doesn't)\b", re.I
)
_NOT_A_NEGATION = re.compile(r"\bnot (?:be )?limited to\b|\bnot only\b", re.I)


def _negated(text: str) -> bool:
    """Whether a text says no ("not covered"); "including but not limited to" does not."""
    return bool(_NEGATION.search(_NOT_A_NEGATION.sub(" ", text)))


def _lead_in(units: list[str], i: int) -> list[int]:
    """For a list item, the sentence(s) leading into its list ("There is also a list of things that
    are not covered. These include:"): a list item quoted alone loses what it is a list of."""
    if not LIST_ITEM.match(units[i]):
        return []
    j = next((j for j in range(i - 1, -1, -1) if not LIST_ITEM.match(units[j])), None)
    if j is None:
        return []
    if units[j].rstrip().endswith(":") and len(units[j].split()) <= 8 and j > 0:
        return [j - 1, j]  # "These include:" says nothing without the sentence before it
    return [j]


def _is_heading(unit: str) -> bool:
    """Heading-path lines ("Benefits > Dental"), titles, lead-ins ("These include:"), questions and
    single words say nothing quotable on their own (a short phrase may: "sturdy wood construction")."""
    text = unit.strip()
    if text.rstrip("* ").endswith("?"):  # a question (a shopper's, an FAQ's) answers nothing itself
        return True
    return " > " in text or text.endswith(":") or len(text.split()) <= 1 or is_title_case(text)
