"""Question routing by document facts: the company, period or product a question names.

The answering path calls it before retrieval::

    route = router.route(question, filters, principal)
    if route.missing_entity:        # a company the base does not hold: abstain and say so
        ...
    hits = route.rank(retriever.search(question, k=route.candidate_k(k), filters=route.filters,
                                       principal=principal), k)

* A named company (legal or short name, alias, ticker) or product (id, or a name word no other
  product shares) restricts ``filters.document_ids`` to its documents plus documents that carry no
  such fact (a policy or glossary stays searchable).
* A named period ("Q3 FY23", "fiscal 2022", "third quarter of 2023", "2023年第三季度"), "the latest
  10-Q"/"last quarter" (the newest period among the matching documents) or a named form boosts the
  matching documents' hits (``boosts``: document id → score factor); ``rank`` applies them.
* Inside one company's or product's documents (named, or the only one the base holds), table
  passages whose row labels the question names ("gross margin", "iPhone") are lifted to the front of
  the hits (``retrieval.table_rows``), so a figure reaches the reader ahead of prose about it. Across
  companies a row label ("Revenue") names no one's figure, so nothing is lifted.
* ``missing_entity`` is set when every readable document carries a company fact, none matches,
  and the question names an organisation found nowhere in the readable documents.
Only documents the principal may read are considered, so routing never reveals others exist.
No match, no restriction: the route then leaves ``filters`` as given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from core.facts import company_names, document_names, short_company_name
from core.types import Hit, Principal
from retrieval.fact_source import DocFacts, FactSource
from retrieval.filters import SearchFilters
from retrieval.question_facts import PeriodAsk, forms_in, org_mentions, periods_in, quarter_only, wants_latest
from retrieval.table_rows import POOL, lift_table_rows, question_terms

PERIOD_BOOST = 1.0  # a hit from a document of the named period scores (1 + this) times its score
FORM_BOOST = 0.25
CANDIDATE_FACTOR = 3  # boosts reorder a wider pool, so the boosted documents' hits can rise into k
MAX_ROUTED_PRODUCTS = 3
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_NAME_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "with",
        "for",
        "from",
        "new",
        "pack",
        "piece",
        "pieces",
        "inch",
        "inches",
        "edition",
        "series",
    ]
)
_FORM_ALIASES = {"annual report": "10-K", "quarterly report": "10-Q", "interim report": "10-Q"}


@dataclass(frozen=True)
class Route:
    """How to search for one question. ``filters`` are the caller's, narrowed when an entity matched;
    ``boosts`` maps document ids to score factors; ``missing_entity`` names an organisation the base
    does not hold (the caller should abstain, saying so); the tuples describe what matched."""

    filters: SearchFilters
    boosts: dict[str, float] = field(default_factory=dict)
    missing_entity: str | None = None
    companies: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    table_terms: frozenset[str] = frozenset()  # the question's words that can name a table row

    def candidate_k(self, k: int) -> int:
        """How many hits to fetch so that ``rank`` can return the best ``k`` after boosting and
        lifting the table rows the question names."""
        wanted = max(k * CANDIDATE_FACTOR, 30) if self.boosts else k
        return max(wanted, POOL) if self.table_terms else wanted

    def rank(self, hits: list[Hit], k: int) -> list[Hit]:
        """``hits`` reordered by score times their document's boost (stable), the table rows the
        question names (in the most boosted documents, when some are) first, cut to ``k``."""
        if self.boosts:

            def boosted(hit: Hit) -> float:
                factor = self.boosts.get(hit.document_id, 1.0)
                return hit.score * factor if hit.score >= 0 else hit.score / factor

            hits = sorted(hits, key=boosted, reverse=True)
            top = max(self.boosts.values())

            def asked(hit: Hit) -> bool:
                # rows are lifted from the documents of the period asked only: "the latest 10-Q's
                # tax rate" is not last year's table, however well its row label matches
                return self.boosts.get(hit.document_id) == top

            return lift_table_rows(self.table_terms, hits, asked)[:k]
        return lift_table_rows(self.table_terms, hits)[:k]


def _name_pattern(name: str) -> re.Pattern[str]:
    if _CJK.search(name):
        return re.compile(re.escape(name))
    parts = [re.escape(p) for p in re.split(r"[\s\-]+", name.strip()) if p]
    body = r"[\s-]*".join(parts)
    return re.compile(rf"(?<![\w]){body}(?:['’]s)?(?![\w])", re.I)


def _ticker_pattern(ticker: str) -> re.Pattern[str]:
    if ticker.isdigit() or len(ticker) >= 3:
        return re.compile(rf"(?<![\w]){re.escape(ticker)}(?![\w])")
    # One- and two-letter symbols ("F", "GE") are ordinary words or initials without a marker.
    return re.compile(rf"(?:\$|\b(?:ticker|symbol|NYSE|NASDAQ)\W{{1,3}}){re.escape(ticker)}(?![\w])")


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("es", "s"):
        if len(word) > 4 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def _calendar(doc: dict[str, Any]) -> tuple[int, int | None] | None:
    """(calendar year, quarter) a document's period mostly falls in, from its period end."""
    end_text, period = doc.get("period_end"), doc.get("fiscal_period")
    if not end_text or not period:
        return None
    end = date.fromisoformat(str(end_text))
    if period in ("Q1", "Q2", "Q3", "Q4"):
        middle = end - timedelta(days=45)
        return middle.year, (middle.month - 1) // 3 + 1
    return (end - timedelta(days=182)).year, None


def _period_matches(ask: PeriodAsk, facts: dict[str, Any]) -> bool:
    period = facts.get("fiscal_period")
    wanted = {ask.period} if ask.period else set()
    if ask.period == "H1":
        wanted.add("Q2")
    if ask.period in ("H2", "FY"):
        wanted |= {"FY", "Q4"}
    if facts.get("fiscal_year") == ask.year and (not wanted or period in wanted):
        return True
    if ask.fiscal:
        return False
    calendar = _calendar(facts)
    if calendar is None:
        return False
    year, quarter = calendar
    if ask.period in ("Q1", "Q2", "Q3", "Q4"):
        return year == ask.year and quarter == int(ask.period[1])
    return year == ask.year and (ask.period is None or period in wanted)


def _period_docs(ask: PeriodAsk, scope: list[DocFacts]) -> set[str]:
    """Documents of the period asked; for a bare year ("FY2018 capex") the year's annual documents
    when the base has them, since they cover the whole year."""
    if ask.period is None:
        annual = {
            d.doc_id for d in scope if d.facts.get("fiscal_period") == "FY" and _period_matches(ask, d.facts)
        }
        if annual:
            return annual
    return {d.doc_id for d in scope if _period_matches(ask, d.facts)}


def _company_key(facts: dict[str, Any]) -> str | None:
    company = facts.get("company")
    if not company:
        return None
    return re.sub(r"\W+", "", short_company_name(str(company)).casefold())


def _names(docs: list[DocFacts]) -> list[str]:
    """Every company, product and brand name and ticker the documents carry."""
    return [name for doc in docs for name in document_names(doc.facts)]


def _form(facts: dict[str, Any]) -> str | None:
    form = str(facts.get("form") or "")
    return _FORM_ALIASES.get(form.lower(), form.upper()) if form else None


class QueryRouter:
    """Matches questions against the facts of the documents a principal may read."""

    def __init__(self, source: FactSource) -> None:
        self.source = source

    def route(self, question: str, filters: SearchFilters, principal: Principal | None) -> Route:
        """The route for ``question`` under ``filters`` as ``principal`` (no principal: no routing)."""
        if principal is None or not question.strip():
            return Route(filters)
        docs = self.source.readable(filters, principal)
        if not docs:
            return Route(filters)
        companies = self._companies(question, docs)
        products = self._products(question, docs)
        scope = docs
        doc_ids: set[str] | None = None
        if companies or products:
            doc_ids = {
                d.doc_id
                for d in docs
                if (not companies or "company" not in d.facts or _company_key(d.facts) in companies)
                and (not products or "product_id" not in d.facts or d.facts["product_id"] in products)
            }
            scope = [d for d in docs if d.doc_id in doc_ids]
        elif (missing := self._missing(question, docs)) is not None:
            return Route(filters, missing_entity=missing)
        boosts, periods = self._boosts(question, scope)
        narrowed = filters
        if doc_ids is not None:
            allowed = doc_ids if filters.document_ids is None else doc_ids & filters.document_ids
            narrowed = replace(filters, document_ids=frozenset(allowed))
        names = {_company_key(d.facts): str(d.facts["company"]) for d in scope if "company" in d.facts}
        # Row labels name line items, which every company's tables share: a named row is evidence
        # only once the search is inside one company's (or product's) documents.
        inside_one = doc_ids is not None or (len(names) == 1 and all("company" in d.facts for d in scope))
        terms = question_terms(question, _names(docs)) if inside_one else frozenset()
        return Route(
            narrowed,
            boosts,
            None,
            tuple(sorted(names[c] for c in companies if c in names)),
            tuple(sorted(products)),
            tuple(periods),
            terms,
        )

    # ------------------------------------------------------------------ entities
    @staticmethod
    def _companies(question: str, docs: list[DocFacts]) -> set[str]:
        index: dict[str, tuple[list[str], list[str]]] = {}
        for doc in docs:
            key = _company_key(doc.facts)
            if key is not None and key not in index:
                index[key] = (company_names(doc.facts), [str(t) for t in doc.facts.get("tickers") or []])
        uppercase_question = any(c.isupper() for c in question)
        found: set[str] = set()
        for key, (names, tickers) in index.items():
            for name in names:
                match = _name_pattern(name).search(question)
                # A one-word name written in lower case in a capitalised question is a common word
                # ("target", "apple pie"), not the company.
                if match and not (uppercase_question and " " not in name and match.group(0).islower()):
                    found.add(key)
                    break
            if key not in found and any(_ticker_pattern(t).search(question) for t in tickers):
                found.add(key)
        return found

    @staticmethod
    def _products(question: str, docs: list[DocFacts]) -> set[str]:
        by_id: dict[str, list[str]] = {}
        for doc in docs:
            product = doc.facts.get("product_id")
            if product:
                words = by_id.setdefault(str(product), [])
                for key in ("product_name", "brand"):
                    words += [_stem(w) for w in _WORD.findall(str(doc.facts.get(key) or ""))]
        if not by_id:
            return set()
        named = {p for p in by_id if re.search(rf"(?<![\w]){re.escape(p)}(?![\w])", question, re.I)}
        if named:
            return named
        owners: dict[str, set[str]] = {}
        for product, words in by_id.items():
            for word in words:
                if len(word) >= 3 and word not in _NAME_STOPWORDS and not word.isdigit():
                    owners.setdefault(word, set()).add(product)
        asked = {_stem(w) for w in _WORD.findall(question)}
        matched = {next(iter(owners[w])) for w in asked if w in owners and len(owners[w]) == 1}
        return matched if len(matched) <= MAX_ROUTED_PRODUCTS else set()

    def _missing(self, question: str, docs: list[DocFacts]) -> str | None:
        if not all("company" in d.facts for d in docs):
            return None
        ids = [d.doc_id for d in docs]
        for mention in org_mentions(question):
            if self._companies(mention, docs):
                continue
            if not self.source.mentions(mention, ids):
                return mention
        return None

    # ------------------------------------------------------------------- periods
    @staticmethod
    def _boosts(question: str, scope: list[DocFacts]) -> tuple[dict[str, float], list[str]]:
        asks = periods_in(question)
        forms = {_FORM_ALIASES.get(f, f) for f in forms_in(question)}
        boosts: dict[str, float] = {}
        described: list[str] = []
        period_docs: set[str] = set()
        if asks:
            for ask in asks:
                period_docs |= _period_docs(ask, scope)
            described = [f"{a.period or 'year'} {'FY' if a.fiscal else ''}{a.year}" for a in asks]
        elif (quarter := quarter_only(question)) is not None:
            period_docs = {d.doc_id for d in scope if d.facts.get("fiscal_period") == f"Q{quarter}"}
            described = [f"Q{quarter}"]
        elif wants_latest(question):
            pool = [d for d in scope if d.facts.get("period_end")]
            if forms:
                pool = [d for d in pool if _form(d.facts) in forms] or pool
            newest: dict[str | None, str] = {}
            for d in pool:
                key = _company_key(d.facts)
                newest[key] = max(newest.get(key, ""), str(d.facts["period_end"]))
            period_docs = {d.doc_id for d in pool if newest[_company_key(d.facts)] == d.facts["period_end"]}
            described = [f"latest ({', '.join(sorted(set(newest.values())))})"] if newest else []
        if period_docs and len(period_docs) < len(scope):
            for doc_id in period_docs:
                boosts[doc_id] = 1.0 + PERIOD_BOOST
        form_docs = {d.doc_id for d in scope if forms and _form(d.facts) in forms}
        if form_docs and len(form_docs) < len(scope):
            for doc_id in form_docs:
                boosts[doc_id] = boosts.get(doc_id, 1.0) * (1.0 + FORM_BOOST)
        return boosts, described if period_docs else []
