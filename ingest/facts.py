"""The facts stage of ingestion: reads what a loaded document is about into its metadata.

Filings (10-K/10-Q and other SEC forms, Chinese periodic reports, annual reports, earnings
releases) get company, tickers, form, fiscal year and period, period end; product documents get
product id, name, brand and category. Sources in order of trust: inline-XBRL ``dei:`` tags, the
cover page, the body's period phrases, record metadata, the file name. Nothing is guessed: a fact
no source states stays absent. Example: ``doc = with_facts(doc, Path("2023 Q3 AAPL.pdf"))``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.facts import FACT_KEYS, FACT_SOURCES, FactError, normalize_fact
from core.types import Document
from ingest.filing_facts import Facts, cover_facts, period_facts, xbrl_facts

log = logging.getLogger(__name__)

COVER_CHARS = 8000  # a cover page, even a verbose one, fits
BODY_CHARS = 600_000  # where period phrases are counted; a 300-page 10-K's statements come early
PRODUCT_HEAD_CHARS = 4000
XBRL_HEAD_BYTES = 4_000_000  # the hidden ix:header with the dei: tags sits at the top of the file
_HTML_SUFFIXES = {".htm", ".html", ".xhtml"}
_CELL_BREAK = re.compile(r"[ \t]*\|[ \t]*")

_FILENAME_FORM = re.compile(r"(?<![A-Za-z0-9])(10-?K|10-?Q|20-?F|40-?F)(?![A-Za-z0-9])", re.I)
_FILENAME_PERIOD = re.compile(
    r"(?<!\d)(?:(?P<y1>(?:19|20)\d{2})[\s_-]*Q(?P<q1>[1-4])|Q(?P<q2>[1-4])[\s_-]*(?P<y2>(?:19|20)\d{2})"
    r"|FY[\s_-]?(?P<y3>(?:19|20)\d{2}))(?!\d)",
    re.I,
)
_FILENAME_TOKEN = re.compile(r"(?<![A-Za-z])([A-Z]{2,5})(?![A-Za-z])")

_PRODUCT_ID = re.compile(
    r"\b(?:ASIN|SKU|Product\s+ID|Item\s+(?:number|no\.?)|UPC|EAN|GTIN|商品编号|货号)\s*[:：#]\s*\**\s*"
    r"([A-Za-z0-9][A-Za-z0-9-]{2,39})\b",
    re.I,
)
_BRAND = re.compile(
    r"(?:^|\n)\W*(?:Brand(?:\s+name)?|Manufacturer|品牌)\s*[:：]\s*\**\s*([^\n.;|]{1,60})", re.I
)
_CATEGORY = re.compile(r"\b(?:Category|Product\s+type|品类|类别)\s*[:：]\s*\**\s*([^\n.;|]{2,60})", re.I)
_RECORD_KEYS = {
    "product_id": ("product_id", "asin", "sku", "item_id", "upc", "ean", "gtin"),
    "product_name": ("product_name", "product_title", "item_name", "name"),
    "brand": ("brand", "brand_name", "manufacturer"),
    "category": ("category", "product_category", "product_type"),
}


def _filename_facts(path: Path | None, source: str, cover: str) -> Facts:
    """Form, period label and ticker in a file name such as ``2023 Q3 AAPL.pdf`` or ``AAPL_10-Q_2023Q3``.

    A ticker-like token counts only when the document itself prints it (so "REPORT" is no ticker)."""
    stem = Path(source).stem if source else (path.stem if path else "")
    facts: Facts = {}
    form = _FILENAME_FORM.search(stem)
    if form:
        letters = form.group(1).upper().replace("-", "")
        facts["form"] = f"{letters[:2]}-{letters[2:]}"
    period = _FILENAME_PERIOD.search(stem)
    if period:
        year = period.group("y1") or period.group("y2") or period.group("y3")
        quarter = period.group("q1") or period.group("q2")
        facts["fiscal_year"] = int(year)
        facts["fiscal_period"] = f"Q{quarter}" if quarter else "FY"
    tokens = [t for t in _FILENAME_TOKEN.findall(stem) if re.search(rf"(?<![\w$.]){t}(?![\w.-])", cover)]
    if tokens and (facts or _FILENAME_FORM.search(cover)):
        facts["tickers"] = tokens[:1]
    return facts


def _record_product_facts(metadata: dict[str, Any]) -> Facts:
    lowered = {str(k).lower(): v for k, v in metadata.items()}
    facts: Facts = {}
    for fact, keys in _RECORD_KEYS.items():
        for key in keys:
            value = lowered.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                facts[fact] = str(value).strip()
                break
    return facts if "product_id" in facts else {}


def _text_product_facts(doc: Document) -> Facts:
    head = doc.text[:PRODUCT_HEAD_CHARS]
    match = _PRODUCT_ID.search(head)
    if match is None:
        return {}
    product_id = match.group(1)
    facts: Facts = {"product_id": product_id}
    title = " ".join(doc.title.split())
    if title and product_id not in title and title != Path(doc.source).stem:
        facts["product_name"] = title
    for fact, pattern in (("brand", _BRAND), ("category", _CATEGORY)):
        found = pattern.search(head)
        if found and found.group(1).strip(" *"):
            facts[fact] = found.group(1).strip(" *")
    return facts


def _raw_html(path: Path | None) -> str:
    if path is None or path.suffix.lower() not in _HTML_SUFFIXES:
        return ""
    try:
        with open(path, "rb") as handle:
            return handle.read(XBRL_HEAD_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


def read_facts(doc: Document, path: Path | None = None) -> tuple[Facts, dict[str, str]]:
    """(facts, where each was read from) for a loaded document; ``path`` is the file it came from."""
    layers: list[tuple[str, Facts]] = []
    raw = _raw_html(path)
    if raw and "dei:" in raw:
        layers.append(("xbrl", xbrl_facts(raw)))
    text = _CELL_BREAK.sub(" ", doc.text)  # a PDF line read as a table row is still one sentence
    cover = text[:COVER_CHARS]
    cover_layer = cover_facts(cover)
    layers.append(("cover", cover_layer))
    merged: Facts = {}
    for _, layer in layers:
        merged = {**layer, **merged}
    layers.append(("text", period_facts(text[:BODY_CHARS], merged)))
    if "form" in merged or "company" in merged:
        layers.append(("filename", _filename_facts(path, doc.source, cover)))
    record = _record_product_facts(doc.metadata)
    layers.append(("record", record) if record else ("text", _text_product_facts(doc)))
    facts: Facts = {}
    sources: dict[str, str] = {}
    for name, layer in layers:
        for key, value in layer.items():
            if key in facts or key not in FACT_KEYS:
                continue
            try:
                facts[key] = normalize_fact(key, value)
            except FactError:
                log.debug("%s: unreadable fact %s=%r from %s", doc.source, key, value, name)
                continue
            sources[key] = name
    return facts, sources


def with_facts(doc: Document, path: Path | None = None) -> Document:
    """``doc`` with its facts merged into its metadata (existing metadata keys win).

    Facts help routing but are not needed to search the text, so a failure here is recorded on
    the document (``facts_error``) instead of failing its ingestion."""
    try:
        facts, sources = read_facts(doc, path)
    except Exception as exc:
        log.exception("%s: could not read document facts", doc.source)
        return replace(doc, metadata={**doc.metadata, "facts_error": f"{type(exc).__name__}: {exc}"})
    if not facts:
        return doc
    fresh = {k: v for k, v in facts.items() if k not in doc.metadata}
    meta = {**doc.metadata, **fresh, FACT_SOURCES: {k: sources[k] for k in fresh}}
    return replace(doc, metadata=meta)
