"""Document facts: what a document is about (company, period, product), kept in its metadata.

Facts are read at ingest (``ingest.facts``), shown and corrected by admins, and used to route
questions (``retrieval.routing``). They live as top-level keys of ``DocumentRow.meta`` so metadata
filters (``SearchFilters.metadata``) and hit metadata see them as they are; ``fact_sources`` records
where each one came from, and a fact an admin set survives re-ingestion.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from core.errors import KBError

FILING_FACTS = ("company", "tickers", "aliases", "form", "fiscal_year", "fiscal_period", "period_end")
PRODUCT_FACTS = ("product_id", "product_name", "brand", "category")
FACT_KEYS = FILING_FACTS + PRODUCT_FACTS
LIST_FACTS = frozenset({"tickers", "aliases"})
FACT_SOURCES = "fact_sources"  # meta key: {fact: "xbrl" | "cover" | "text" | "filename" | "record" | "admin"}
ADMIN = "admin"
FISCAL_PERIODS = ("Q1", "Q2", "Q3", "Q4", "H1", "H2", "FY")
MAX_TEXT = 256

LEGAL_FORMS = (  # the endings of company names: "Apple Inc.", "3M Company", "Alibaba Group Holding Limited"
    r"incorporated|inc|corporation|corp|company|co|limited|ltd|plc|llc|l\.l\.c|lp|l\.p|n\.v|nv|s\.a|sa|ag|se|"
    r"s\.p\.a|spa|gmbh|holdings?|group"
)
QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_CORPORATE_SUFFIX = re.compile(rf"[\s,]*\b(?:{LEGAL_FORMS})\b\.?\s*$", re.I)
_LEADING_THE = re.compile(r"^the\s+", re.I)
_CJK_SUFFIX = re.compile(r"(?:集团)?(?:股份)?有限(?:责任)?公司$|(?:集团)?股份公司$|集团$")
_DOMAIN = re.compile(r"\.(?:com|net|org|io)$", re.I)


class FactError(KBError):
    """A fact value an admin gave is not valid (wrong type, unknown key, impossible date)."""


def facts_of(meta: dict[str, Any] | None) -> dict[str, Any]:
    """The facts among a document's metadata, in schema order."""
    meta = meta or {}
    return {key: meta[key] for key in FACT_KEYS if meta.get(key) not in (None, "", [])}


def fact_sources(meta: dict[str, Any] | None) -> dict[str, str]:
    """Where each fact of ``meta`` was read from."""
    sources = (meta or {}).get(FACT_SOURCES)
    return {str(k): str(v) for k, v in sources.items()} if isinstance(sources, dict) else {}


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise FactError(f"fact {key!r} must be text, got {type(value).__name__}")
    text = " ".join(str(value).split())
    if not text or len(text) > MAX_TEXT:
        raise FactError(f"fact {key!r} must be 1 to {MAX_TEXT} characters")
    return text


def normalize_fact(key: str, value: Any) -> Any:
    """A fact value in its stored form; FactError names what is wrong with it."""
    if key not in FACT_KEYS:
        raise FactError(f"unknown fact {key!r}; known facts: {', '.join(FACT_KEYS)}")
    if key in LIST_FACTS:
        items = value if isinstance(value, list) else [value]
        if len(items) > 20:
            raise FactError(f"fact {key!r} takes at most 20 values")
        return list(dict.fromkeys(_text(key, item) for item in items))
    if key == "fiscal_year":
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
            raise FactError("fact 'fiscal_year' must be a year such as 2023")
        year = int(str(value).strip())
        if not 1900 <= year <= 2200:
            raise FactError(f"fact 'fiscal_year' {year} is not a plausible year")
        return year
    if key == "fiscal_period":
        period = _text(key, value).upper()
        if period not in FISCAL_PERIODS:
            raise FactError(f"fact 'fiscal_period' must be one of {', '.join(FISCAL_PERIODS)}")
        return period
    if key == "period_end":
        try:
            return date.fromisoformat(_text(key, value)).isoformat()
        except ValueError:
            raise FactError("fact 'period_end' must be a date as YYYY-MM-DD") from None
    return _text(key, value)


def apply_admin_facts(meta: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with ``changes`` applied by an admin (None removes a fact); the changed facts are
    marked as set by an admin so re-ingestion keeps them."""
    out = dict(meta)
    sources = fact_sources(meta)
    for key, value in changes.items():
        if key not in FACT_KEYS:
            raise FactError(f"unknown fact {key!r}; known facts: {', '.join(FACT_KEYS)}")
        if value is None or value == [] or value == "":
            out.pop(key, None)
        else:
            out[key] = normalize_fact(key, value)
        sources[key] = ADMIN
    out[FACT_SOURCES] = sources
    return out


def keep_admin_facts(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """New metadata of a re-read document, with the facts an admin set (or removed) on the old one."""
    old_sources = fact_sources(old)
    admin_keys = [k for k, v in old_sources.items() if v == ADMIN and k in FACT_KEYS]
    if not admin_keys:
        return new
    out = dict(new)
    sources = fact_sources(new)
    for key in admin_keys:
        if key in (old or {}):
            out[key] = (old or {})[key]
        else:
            out.pop(key, None)
        sources[key] = ADMIN
    out[FACT_SOURCES] = sources
    return out


def short_company_name(name: str) -> str:
    """The name without its legal form: ``Apple Inc.`` → ``Apple``, ``AMAZON.COM, INC.`` → ``AMAZON``,
    ``贵州茅台酒股份有限公司`` → ``贵州茅台酒``."""
    text = " ".join(name.split())
    if _CJK_SUFFIX.search(text):
        return _CJK_SUFFIX.sub("", text) or text
    previous = None
    while previous != text:
        previous = text
        text = _CORPORATE_SUFFIX.sub("", text).strip(" ,")
    text = _DOMAIN.sub("", _LEADING_THE.sub("", text))
    return text.strip(" ,&") or " ".join(name.split())


def company_names(facts: dict[str, Any]) -> list[str]:
    """Every name a question may use for the company: legal name, short name, domain-less name, aliases."""
    names: list[str] = []
    company = facts.get("company")
    if isinstance(company, str) and company.strip():
        names.append(" ".join(company.split()))
        names.append(short_company_name(company))
    names.extend(str(a) for a in facts.get("aliases") or [])
    return list(dict.fromkeys(n for n in names if n))


def document_names(facts: dict[str, Any]) -> list[str]:
    """Every name a document's facts give it: its company's names and tickers, its product's name
    and brand (what a question names the document by, while its passages say "the Company")."""
    names = company_names(facts) if "company" in facts else []
    names += [str(t) for t in facts.get("tickers") or []]
    names += [str(facts[k]) for k in ("product_name", "brand") if facts.get(k)]
    return names
