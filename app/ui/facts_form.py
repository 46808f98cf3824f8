"""The document-facts editor of the admin documents page: fields, display and the changes to send."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.ui.i18n import t

# (fact, label, help); the API validates values (docs/api.md, PATCH /documents/{id}/facts).
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("company", "Company", "Registrant name as on the cover, e.g. Apple Inc."),
    ("tickers", "Tickers", "Comma-separated trading symbols, e.g. AAPL"),
    ("aliases", "Other names", "Comma-separated names people use, e.g. Google, Alphabet"),
    ("form", "Form", "10-K, 10-Q, annual report, earnings release, ..."),
    ("fiscal_year", "Fiscal year", "e.g. 2024"),
    ("fiscal_period", "Fiscal period", "Q1-Q4, H1, H2 or FY"),
    ("period_end", "Period end", "YYYY-MM-DD"),
    ("product_id", "Product id", "ASIN, SKU, ..."),
    ("product_name", "Product name", ""),
    ("brand", "Brand", ""),
    ("category", "Category", ""),
)
LIST_FIELDS = frozenset({"tickers", "aliases"})
SOURCES = {
    "xbrl": "inline XBRL tag",
    "cover": "cover page",
    "text": "document text",
    "filename": "file name",
    "record": "record metadata",
    "admin": "set by an admin",
}


def as_text(value: Any) -> str:
    """A fact as the editor shows it."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def summary(facts: dict[str, Any]) -> str:
    """One line for the documents table: company, tickers, form, period, or product."""
    period = " ".join(
        part
        for part in (
            f"FY{facts['fiscal_year']}" if facts.get("fiscal_year") else "",
            str(facts.get("fiscal_period") or "") if facts.get("fiscal_period") != "FY" else "",
        )
        if part
    )
    parts = [
        as_text(facts.get("company") or facts.get("product_name")),
        as_text(facts.get("tickers") or facts.get("product_id")),
        as_text(facts.get("form")),
        period,
    ]
    return " · ".join(p for p in parts if p)


def changes(before: dict[str, Any], edited: dict[str, str]) -> dict[str, Any]:
    """What to send: each edited field whose value differs; an emptied field becomes None."""
    out: dict[str, Any] = {}
    for key, text in edited.items():
        text = text.strip()
        if text == as_text(before.get(key)):
            continue
        if not text:
            out[key] = None
        elif key in LIST_FIELDS:
            out[key] = [part.strip() for part in text.split(",") if part.strip()]
        elif key == "fiscal_year":
            out[key] = int(text) if text.isdigit() else text
        else:
            out[key] = text
    return out


def facts_editor(doc_id: str, facts: dict[str, Any], sources: dict[str, str]) -> dict[str, Any] | None:
    """Render the editor; returns the changes when the admin saves, else None."""
    edited: dict[str, str] = {}
    left, right = st.columns(2)
    for index, (key, label, hint) in enumerate(FIELDS):
        column = left if index % 2 == 0 else right
        source = SOURCES.get(sources.get(key, ""), "")
        help_text = " · ".join(p for p in (hint, f"from the {source}" if source else "") if p) or None
        edited[key] = column.text_input(
            label, value=as_text(facts.get(key)), key=f"fact_{key}_{doc_id}", help=help_text
        )
    st.caption(t("Facts are read at ingest; what you set here is kept when the file is re-ingested."))
    if st.button(t("Save facts"), key=f"facts_save_{doc_id}"):
        return changes(facts, edited)
    return None
