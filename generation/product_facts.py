"""Retail answers from product facts: when the model's answer cannot be shown, a product attribute or
bullet that bears on the question answers it, quoted ("Yes. The product facts say: "ages 8 and up"
[2]."); a yes/no or "is it suitable / compatible" question gets the verdict the model reads off that
one fact. Shoppers' reviews and answers are quoted only as what they are: opinions, labelled so.

A passage's kind comes from its metadata (``source``: attribute, bullet, description, review, cqa …)
or from the section it sits under ("Product facts > Specifications", "From customer reviews",
"Customer questions"); anything else counts as a fact sheet's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.types import Hit
from generation.backends.base import Generator
from generation.extractive import _aspect, _is_heading
from generation.support import Evidence, content_terms

FACT, OPINION, ARTICLE = "fact", "opinion", "article"
_FACT_SOURCES = {"attribute", "bullet", "description", "specification", "feature", "spec"}
_OPINION_SOURCES = {"review", "cqa", "qa", "question", "answer"}
_ARTICLE_SOURCES = {"osp", "web", "article"}
_OPINION_HEADING = re.compile(r"review|customer question|shopper|q\s*&\s*a|community", re.I)
_YES_NO = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had)\b|\b(?:suitable|compatible|"
    r"fit|fits|work with|safe for|appropriate)\b",
    re.I,
)
MIN_SCORE = 0.3  # the fact sentence ↔ the question's aspect (cosine)
# Less reliable sources must be closer to the question to be quoted at all: a shopper's opinion, and
# more so a web page about the category (it often speaks of other products).
EXTRA_SCORE = {FACT: 0.0, OPINION: 0.05, ARTICLE: 0.1}
_ASKED = re.compile(r"\?\s*\**\s*$|^\W*Q\s*:", re.I)
_EITHER_OR = re.compile(r"\b\w+\s+or\s+\w+\s*\?", re.I)


@dataclass(frozen=True)
class ProductFact:
    """The quoted sentence of passage ``n`` (1-based), its kind and how close it is to the question."""

    n: int
    sentence: str
    kind: str
    score: float


def passage_kind(hit: Hit) -> str:
    """fact, opinion (a shopper's review or answer) or article (a web page about the product)."""
    source = str((hit.metadata or {}).get("source") or "").lower()
    if source in _OPINION_SOURCES:
        return OPINION
    if source in _ARTICLE_SOURCES:
        return ARTICLE
    if source in _FACT_SOURCES:
        return FACT
    return OPINION if _OPINION_HEADING.search(" ".join(hit.heading_path)) else FACT


def readable(sentence: str) -> str:
    """An attribute record ("num_batteries:  { quantity:3, type:aa }") as words ("num batteries:
    quantity 3, type aa"); other text unchanged."""
    match = re.match(r"^\s*([a-z][a-z0-9_]*):\s+(\{.*\})\s*$", sentence)
    if match is None:
        return sentence
    body = re.sub(r"[{}\"]", "", match.group(2))
    body = re.sub(r"\bvalue:", "", body)
    body = re.sub(r"(\w+):", r"\1 ", body)
    body = " ".join(body.replace(" ;", ";").split())
    return f"{match.group(1).replace('_', ' ')}: {body.strip(' ;,')}"


def is_yes_no(question: str) -> bool:
    """A question a verdict answers: "is it ...?", "does it ...?", "is it suitable for ...?"; not a
    choice ("is the countertop plastic or wood?")."""
    return bool(_YES_NO.search(question)) and not _EITHER_OR.search(question)


def _verdict_messages(question: str, fact: str) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": "You read one product fact and say whether it answers a shopper's question with yes "
            "or no. Reply with one word: Yes, No or Unclear.",
        },
        {"role": "user", "content": f'Product fact: "{fact}"\nQuestion: {question}\nReply:'},
    ]


class ProductFactAnswerer:
    """Picks the product fact (or, failing one, the labelled opinion) that answers a question."""

    def __init__(self, embed: object | None, min_score: float = MIN_SCORE) -> None:
        self.embed = embed
        self.min_score = min_score

    def find(self, question: str, evidence: Evidence) -> ProductFact | None:
        """The best fact sentence, or opinion sentence when no fact comes close; None below the bar."""
        if self.embed is None or not evidence.hits:
            return None
        asked = content_terms(question)
        best: ProductFact | None = None
        vectors = evidence.vectors()
        for n, hit in enumerate(evidence.hits, 1):
            units = evidence.units[n - 1]
            if not units:
                continue
            aspect = self.embed([question, _aspect(question, hit.title)])  # type: ignore[operator]
            scores = vectors[n - 1] @ ((aspect[0] + aspect[1]) / 2)
            kind = passage_kind(hit)
            for i in (int(j) for j in np.argsort(-scores)[:3]):
                unit = units[i]
                shared = asked & content_terms(readable(unit))
                if (_is_heading(unit) and not shared) or _ASKED.search(unit):
                    continue  # a heading, or a question (a shopper's), answers nothing
                score = float(scores[i]) - EXTRA_SCORE[kind]
                if score >= self.min_score and (best is None or score > best.score):
                    best = ProductFact(n, unit, kind, score)
        return best

    def verdict(self, generator: Generator, question: str, fact: ProductFact) -> str:
        """ "Yes" or "No" when the fact settles a yes/no question (the model reads it), else ""."""
        if fact.kind != FACT or not is_yes_no(question):
            return ""
        reply = generator.complete(_verdict_messages(question, readable(fact.sentence)), max_tokens=3).text
        word = reply.strip().split()[0].strip(".,!").capitalize() if reply.strip() else ""
        return word if word in ("Yes", "No") else ""
