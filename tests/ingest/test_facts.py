"""The facts stage: filings (SEC covers, inline XBRL, Chinese periodic reports, earnings releases),
product documents, file names; and that nothing is guessed where nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.facts import FACT_SOURCES
from core.types import Block, Document, sha256_hex
from ingest.facts import read_facts, with_facts
from ingest.filing_facts import parse_date, xbrl_facts
from ingest.loaders import load_path

REPO = Path(__file__).resolve().parents[2]

SEC_COVER = """UNITED STATES
SECURITIES AND EXCHANGE COMMISSION
Washington, D.C. 20549
FORM 10-Q
☒ QUARTERLY REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934
For the quarterly period ended October 29, 2023
OR
☐ TRANSITION REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934
Commission file number: 0-23985
NVIDIA CORPORATION
(Exact name of registrant as specified in its charter)
Delaware 94-3177549
Securities registered pursuant to Section 12(b) of the Act:
Title of each class Trading Symbol(s) Name of each exchange on which registered
Common Stock, $0.001 par value per share NVDA The Nasdaq Global Select Market
Indicate by check mark whether the registrant (1) has filed all reports required to be filed"""
SEC_BODY = """Condensed Consolidated Statements of Income for the three and nine months ended October 29, 2023
Revenue for the nine months ended October 29, 2023 was $38.8 billion.
Third Quarter of Fiscal Year 2024 Summary. Revenue for the third quarter of fiscal year 2024 was
$18.1 billion, up from the third quarter of fiscal year 2023. We expect the fourth quarter of fiscal
year 2024 to be strong."""


def doc(text: str, title: str = "document", source: str = "document.txt", **meta: object) -> Document:
    blocks = tuple(Block(kind="paragraph", text=p) for p in text.split("\n\n") if p.strip())
    return Document(source, title, blocks, sha256_hex(text), "txt", metadata=dict(meta))


def test_sec_cover_and_body_give_company_ticker_form_and_fiscal_period() -> None:
    facts, sources = read_facts(doc(SEC_COVER + "\n\n" + SEC_BODY))
    assert facts == {
        "form": "10-Q",
        "company": "NVIDIA CORPORATION",
        "tickers": ["NVDA"],
        "period_end": "2023-10-29",
        "fiscal_period": "Q3",
        "fiscal_year": 2024,  # NVIDIA's fiscal 2024 ends in January 2024; the filing says so
    }
    assert sources["company"] == "cover" and sources["fiscal_year"] == "text"


def test_cover_without_registrant_caption_and_with_notes_warrants_and_preferred() -> None:
    cover = """FORM 10-K
☒ ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934
For the Fiscal Year Ended June 30, 2024
Commission File Number 001-37845
MICROSOFT CORPORATION
WASHINGTON 91-1144442
Securities registered pursuant to Section 12(b) of the Act:
Title of each class Trading Symbol Name of exchange on which registered
Common stock, $0.00000625 par value per share MSFT NASDAQ
3.125% Notes due 2028 MSFT28 NASDAQ
Warrants to purchase Class A common stock MSFT WS NASDAQ
Depositary Shares, each representing a 1/1000th interest in a share of Preferred Stock MSFT PrA NYSE
Indicate by check mark whether the registrant is a well-known seasoned issuer"""
    facts, _ = read_facts(doc(cover + "\n\nfiscal year 2024 compared with fiscal year 2023"))
    assert facts["company"] == "MICROSOFT CORPORATION"
    assert facts["tickers"] == ["MSFT"]
    assert (facts["form"], facts["fiscal_period"], facts["period_end"]) == ("10-K", "FY", "2024-06-30")
    assert facts["fiscal_year"] == 2024  # a year ending in June is named after its end


def test_fiscal_year_ending_in_january_is_read_not_guessed() -> None:
    cover = "FORM 10-K\nFor the fiscal year ended January 31, 2025\nWALMART INC.\n(Exact name of registrant)"
    stated = cover + '\n\nthe fiscal years ended January 31, 2025 ("fiscal 2025") and January 31, 2024'
    assert read_facts(doc(stated))[0]["fiscal_year"] == 2025
    unstated = read_facts(doc(cover + "\n\nNet sales increased."))[0]
    assert unstated["period_end"] == "2025-01-31" and "fiscal_year" not in unstated


def test_inline_xbrl_dei_tags(tmp_path: Path) -> None:
    html = tmp_path / "aapl-20230701.htm"
    html.write_text(
        """<html><body><div style="display:none"><ix:header>
<ix:nonNumeric name="dei:DocumentType" contextRef="c1">10-Q</ix:nonNumeric>
<ix:nonNumeric name="dei:DocumentPeriodEndDate" contextRef="c1"><ix:nonNumeric
 name="dei:CurrentFiscalYearEndDate" contextRef="c1">July&#160;1</ix:nonNumeric>, 2023</ix:nonNumeric>
<ix:nonNumeric name="dei:DocumentFiscalYearFocus" contextRef="c1">2023</ix:nonNumeric>
<ix:nonNumeric name="dei:DocumentFiscalPeriodFocus" contextRef="c1">Q3</ix:nonNumeric>
<ix:nonNumeric name="dei:EntityRegistrantName" contextRef="c1"><span>Apple&#160;Inc.</span></ix:nonNumeric>
<ix:nonNumeric name="dei:TradingSymbol" contextRef="c1">AAPL</ix:nonNumeric>
</ix:header></div><p>Apple Inc. quarterly report. Net sales were $81.8 billion.</p></body></html>""",
        encoding="utf-8",
    )
    loaded = load_path(html)[0]
    facts, sources = read_facts(loaded, html)
    assert facts == {
        "company": "Apple Inc.",
        "tickers": ["AAPL"],
        "form": "10-Q",
        "fiscal_year": 2023,
        "fiscal_period": "Q3",
        "period_end": "2023-07-01",
    }
    assert set(sources.values()) == {"xbrl"}
    assert xbrl_facts("<p>no tags</p>") == {}


def test_chinese_periodic_report() -> None:
    cover = (
        "证券代码：600519                                证券简称：贵州茅台\n"
        "贵州茅台酒股份有限公司\n2023年第三季度报告\n"
        "本公司董事会及全体董事保证本公告内容不存在任何虚假记载。\n"
        "单位：元 币种：人民币 2023年9月30日 2022年12月31日"
    )
    facts, _ = read_facts(doc(cover))
    assert facts == {
        "company": "贵州茅台酒股份有限公司",
        "tickers": ["600519"],
        "aliases": ["贵州茅台"],
        "form": "quarterly report",
        "fiscal_year": 2023,
        "fiscal_period": "Q3",
        "period_end": "2023-09-30",
    }
    annual, _ = read_facts(doc("公司代码：600519 公司简称：贵州茅台\n贵州茅台酒股份有限公司\n2023年年度报告"))
    assert (annual["form"], annual["fiscal_period"], annual["fiscal_year"]) == ("annual report", "FY", 2023)
    assert "period_end" not in annual  # the report text never writes 2023年12月31日


def test_earnings_release_headline() -> None:
    text = (
        "NVIDIA Announces Financial Results for Third Quarter Fiscal 2024\n\nRecord revenue of $18.12 billion"
    )
    facts, _ = read_facts(doc(text))
    assert facts == {
        "form": "earnings release",
        "company": "NVIDIA",
        "fiscal_year": 2024,
        "fiscal_period": "Q3",
    }


def test_file_name_fills_only_what_the_document_does_not_say() -> None:
    cover = "FORM 10-Q\nACME WIDGETS CORP\n(Exact name of registrant as specified in its charter)\nACME"
    facts, sources = read_facts(doc(cover, source="ACME_10-Q_2023Q2.pdf"))
    assert (facts["fiscal_year"], facts["fiscal_period"], facts["tickers"]) == (2023, "Q2", ["ACME"])
    assert sources["fiscal_year"] == "filename" and sources["form"] == "cover"
    # A capitalised word of the file name that the document never prints is no ticker.
    assert "tickers" not in read_facts(doc(cover.replace("\nACME", ""), source="REPORT 2023 Q2.pdf"))[0]


def test_product_sheet_and_record_metadata() -> None:
    sheet = load_path(REPO / "samples" / "retail" / "B00F4WMAAW-syma-s107g-rc-helicopter.md")[0]
    facts, _ = read_facts(sheet)
    assert facts == {
        "product_id": "B00F4WMAAW",
        "product_name": "Syma S107G 3-channel infrared RC helicopter with gyro",
        "brand": "syma",
        "category": "toys & games",
    }
    record = doc(
        "is_electric: { value:false }", title="Product B0072BKZOQ", asin="B0072BKZOQ", source_x="CQA"
    )
    assert read_facts(record)[0] == {"product_id": "B0072BKZOQ"}  # "Product B0072BKZOQ" is no name


def test_nothing_is_guessed_from_ordinary_documents() -> None:
    handbook = doc(
        "Employee handbook\n\nFor the year ended December 31, 2023 our Brand style guide applies. "
        "Apple Inc. and NVIDIA CORPORATION are suppliers. Q3 2023 planning starts in July.",
        source="2023 Q3 handbook.pdf",
    )
    assert read_facts(handbook) == ({}, {})
    assert with_facts(handbook) is handbook


def test_with_facts_keeps_existing_metadata_and_records_sources() -> None:
    loaded = with_facts(doc(SEC_COVER, company="Nvidia (as given by the corpus)"))
    assert loaded.metadata["company"] == "Nvidia (as given by the corpus)"
    assert loaded.metadata["tickers"] == ["NVDA"]
    assert (
        "company" not in loaded.metadata[FACT_SOURCES] and loaded.metadata[FACT_SOURCES]["tickers"] == "cover"
    )


def test_parse_date_forms() -> None:
    assert str(parse_date("July 1, 2023")) == "2023-07-01"
    assert str(parse_date("30 September 2023")) == "2023-09-30"
    assert str(parse_date("Sept. 30 2023")) == "2023-09-30"
    assert str(parse_date("2023年9月30日")) == "2023-09-30"
    assert parse_date("February 30, 2023") is None


def test_real_10q_pdfs_of_the_finance_demo() -> None:
    expected = {
        "2023 Q3 AAPL.pdf": ("Apple Inc.", ["AAPL"], "2023-07-01", 2023, "Q3"),
        "2023 Q3 NVDA.pdf": ("NVIDIA CORPORATION", ["NVDA"], "2023-10-29", 2024, "Q3"),
    }
    for name, (company, tickers, end, year, quarter) in expected.items():
        path = REPO / "samples" / "finance" / name
        facts, sources = read_facts(load_path(path)[0], path)
        assert (facts["company"], facts["tickers"], facts["form"]) == (company, tickers, "10-Q")
        assert (facts["period_end"], facts["fiscal_year"], facts["fiscal_period"]) == (end, year, quarter)
        assert "filename" not in sources.values()  # all read from the filing itself


@pytest.mark.slow
def test_real_10q_pdfs_across_companies_and_fiscal_calendars(datasets: Path) -> None:
    """Microsoft (June year end), NVIDIA (January), Apple (September), Intel and Amazon (December)."""
    expected = {
        "2022 Q3 INTC.pdf": ("INTEL CORPORATION", "INTC", "2022-10-01", 2022, "Q3"),
        "2022 Q3 MSFT.pdf": ("MICROSOFT CORPORATION", "MSFT", "2022-09-30", 2023, "Q1"),
        "2023 Q1 MSFT.pdf": ("MICROSOFT CORPORATION", "MSFT", "2022-12-31", 2023, "Q2"),
        "2023 Q1 AAPL.pdf": ("Apple Inc.", "AAPL", "2022-12-31", 2023, "Q1"),
        "2023 Q2 AMZN.pdf": ("AMAZON.COM, INC.", "AMZN", "2023-06-30", 2023, "Q2"),
        "2023 Q1 NVDA.pdf": ("NVIDIA CORPORATION", "NVDA", "2023-04-30", 2024, "Q1"),
    }
    for name, (company, ticker, end, year, quarter) in expected.items():
        path = datasets / "docugami_sec10q" / "docs" / name
        facts, sources = read_facts(load_path(path)[0], path)
        got = (
            facts["company"],
            facts["tickers"],
            facts["period_end"],
            facts["fiscal_year"],
            facts["fiscal_period"],
        )
        assert got == (company, [ticker], end, year, quarter), name
        assert "filename" not in sources.values(), name
