"""Table rows a question names: lifted above prose that only talks about them.

A figure question ("What was Apple's gross margin in the latest 10-Q?", "iPhone revenue last
quarter?") is answered by the table row labelled with what it asks for. That row's passage is mostly
numbers, so both retrievers rank it below management's discussion, risk factors and certifications
that use the same words; the model then never sees the figure. Given a wider candidate pool, the table
passages whose row labels the question names (all content words of the label, or most of them, are in
the question) move to the front, best match first.

The question's words that name the company, the period or the form ("Apple", "latest", "10-Q") are
left out of the match: every passage of the filing shares them, and a mis-parsed page footer
("Apple Inc. | Q3 2023 Form 10-Q") must not count as a row about the question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.tables import LABEL_JOINER, table_of
from core.text_match import key_terms
from core.types import Hit

MAX_LIFTED = 2  # table passages moved to the front, at most
MIN_COVERAGE = 0.5  # share of a row label's content words the question must contain
MIN_COVERAGE_LONG = 0.34  # ... or of a long label ("Net cash provided by operating activities"), two words
POOL = 40  # candidates to look among for the rows (retrieval hydrates 50 anyway)

# Words a row label shares with many rows ("Total net sales", "Other income, net"): they name no
# line item on their own. Words of questions about a filing rather than a line item.
_LABEL_FILLERS = frozenset(key_terms("total net other less add plus including excluding provided used"))
_FILING_WORDS = frozenset(
    key_terms(
        "latest last recent most quarter quarterly fiscal year annual month months period ended ending "
        "report reported reports filing form 10-q 10-k statement statements figure figures number amount "
        "company business segment segments q1 q2 q3 q4 fy h1 h2 "
        "最新 最近 季度 年度 报告 财报 公司 多少 金额"
    )
)

_PERIOD_CODE = re.compile(r"^(?:fy|cy|q[1-4]|h[12])?'?\d{2,4}$|^(?:fy|q[1-4]|h[12])$")


@dataclass(frozen=True)
class RowMatch:
    """How well a passage's best table row matches the question: words matched, share of the label."""

    matched: int
    coverage: float
    label: str
    terms: frozenset[str] = frozenset()  # the question's words the label holds


def question_terms(question: str, names: Iterable[str] = ()) -> frozenset[str]:
    """The question's content words that can name a line item (company ``names``, periods and forms
    taken out)."""
    drop = set(_FILING_WORDS)
    for name in names:
        drop |= key_terms(name)
    return frozenset(t for t in key_terms(question) - drop if not _PERIOD_CODE.match(t))


def label_match(terms: frozenset[str], label: str, own: frozenset[str] = frozenset()) -> RowMatch | None:
    """How well the question's ``terms`` name a row ``label`` (None: not at all, or too little of
    it); ``own`` are words of the passage's title and company, which name no row."""
    words = key_terms(label) - _LABEL_FILLERS - own
    named = frozenset(words & terms)
    coverage = len(named) / len(words) if words else 0.0
    if not named or (coverage < MIN_COVERAGE and (len(named) < 2 or coverage < MIN_COVERAGE_LONG)):
        return None
    return RowMatch(len(named), coverage, label, named)


def row_label(line: str) -> str | None:
    """The row label of a table row as passages render it ("Gross margin — Three Months …: 36,413")."""
    return line.split(LABEL_JOINER, 1)[0].strip() if LABEL_JOINER in line else None


def row_match(terms: frozenset[str], hit: Hit) -> RowMatch | None:
    """The passage's table row whose label the question names best (None: no table, or no row named).
    Words of the passage's own title and company do not count (they are on every row of it). Only
    passages ingest kept as tables are lifted: prose is never read as table rows here."""
    table = table_of(hit) if hit.metadata.get("table") else None
    if table is None or not terms:
        return None
    own = frozenset(key_terms(" ".join(str(v) for v in (hit.title, hit.metadata.get("company") or ""))))
    best: RowMatch | None = None
    for label in dict.fromkeys(c.row for c in table.cells):
        match = label_match(terms, label, own)
        if match is not None and (
            best is None or (match.matched, match.coverage) > (best.matched, best.coverage)
        ):
            best = match
    return best


def lift_table_rows(
    terms: frozenset[str], hits: list[Hit], eligible: Callable[[Hit], bool] | None = None
) -> list[Hit]:
    """``hits`` with up to ``MAX_LIFTED`` table passages whose rows the question names (among the
    ``eligible`` ones) moved to the front (most words matched first, then fuller labels, then their
    rank); the rest keep their order."""
    if not terms:
        return hits
    scored = []
    for rank, hit in enumerate(hits):
        if eligible is not None and not eligible(hit):
            continue
        match = row_match(terms, hit)
        if match is not None:
            scored.append((-match.matched, -match.coverage, rank))
    if not scored:
        return hits
    scored.sort()
    top = scored[0][:2]
    lifted = [rank for matched, coverage, rank in scored if (matched, coverage) == top][:MAX_LIFTED]
    chosen = set(lifted)
    return [hits[r] for r in lifted] + [h for r, h in enumerate(hits) if r not in chosen]
