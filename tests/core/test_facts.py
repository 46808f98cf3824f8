"""Document facts schema: validation, admin edits that survive re-ingestion, company names."""

from __future__ import annotations

import pytest

from core.facts import (
    FACT_SOURCES,
    FactError,
    apply_admin_facts,
    company_names,
    facts_of,
    keep_admin_facts,
    normalize_fact,
    short_company_name,
)


def test_normalize_fact_checks_types_and_values() -> None:
    assert normalize_fact("fiscal_year", "2023") == 2023
    assert normalize_fact("fiscal_period", "q3") == "Q3"
    assert normalize_fact("period_end", "2023-07-01") == "2023-07-01"
    assert normalize_fact("tickers", "AAPL") == ["AAPL"]
    assert normalize_fact("company", "  Apple   Inc. ") == "Apple Inc."
    for key, value in [
        ("fiscal_year", "twenty"),
        ("fiscal_year", 1066),
        ("fiscal_period", "Q5"),
        ("period_end", "July 1"),
        ("company", ""),
        ("company", True),
        ("colour", "red"),
    ]:
        with pytest.raises(FactError):
            normalize_fact(key, value)


def test_admin_edits_are_marked_and_kept_on_reingest() -> None:
    read = {"company": "Apple Inc.", "form": "10-Q", "file_hash": "x", FACT_SOURCES: {"company": "cover"}}
    edited = apply_admin_facts(read, {"aliases": ["iPhone maker"], "form": None})
    assert edited["aliases"] == ["iPhone maker"] and "form" not in edited
    assert edited[FACT_SOURCES] == {"company": "cover", "aliases": "admin", "form": "admin"}
    reread = {"company": "APPLE INC", "form": "10-Q", "file_hash": "y", FACT_SOURCES: {"company": "cover"}}
    kept = keep_admin_facts(edited, reread)
    assert kept["company"] == "APPLE INC"  # not edited: the new reading wins
    assert kept["aliases"] == ["iPhone maker"] and "form" not in kept  # edited: the admin's wins
    assert kept["file_hash"] == "y"
    assert facts_of(kept) == {"company": "APPLE INC", "aliases": ["iPhone maker"]}
    assert keep_admin_facts(None, reread) is reread
    with pytest.raises(FactError):
        apply_admin_facts(read, {"colour": "red"})


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("Apple Inc.", "Apple"),
        ("NVIDIA CORPORATION", "NVIDIA"),
        ("AMAZON.COM, INC.", "AMAZON"),
        ("The Coca-Cola Company", "Coca-Cola"),
        ("JPMorgan Chase & Co.", "JPMorgan Chase"),
        ("Johnson & Johnson", "Johnson & Johnson"),
        ("Alibaba Group Holding Limited", "Alibaba"),
        ("贵州茅台酒股份有限公司", "贵州茅台酒"),
    ],
)
def test_short_company_name(name: str, short: str) -> None:
    assert short_company_name(name) == short


def test_company_names_include_aliases() -> None:
    assert company_names({"company": "Alphabet Inc.", "aliases": ["Google"]}) == [
        "Alphabet Inc.",
        "Alphabet",
        "Google",
    ]
