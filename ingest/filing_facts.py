"""Facts of a financial filing: company, tickers, form, fiscal year and quarter, period end.

Read from what the filing states — inline-XBRL ``dei:`` tags, the cover page (SEC forms, Chinese
periodic reports, earnings-release headlines) and the body's period phrases — never inferred from
habits of a particular issuer. Every finder returns only what it could read; absent means unknown.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import date, timedelta
from typing import Any

from core.facts import LEGAL_FORMS, QUARTER_WORDS

Facts = dict[str, Any]

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]  # fmt: skip
    )
    for m in names
}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
DATE = (
    rf"(?:{_MONTH}\.?\s+\d{{1,2}}\s*,?\s*\d{{4}}|\d{{1,2}}\s+{_MONTH}\.?,?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}"
    r"|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)"
)
_DATE_PARTS = (
    re.compile(rf"({_MONTH})\.?\s+(\d{{1,2}})\s*,?\s*(\d{{4}})", re.I),
    re.compile(rf"(\d{{1,2}})\s+({_MONTH})\.?,?\s+(\d{{4}})", re.I),
    re.compile(r"(\d{4})-(\d{2})-(\d{2})"),
    re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"),
)
_SEC_FORM = re.compile(r"\bFORM\s+(10-KT?|10-QT?|20-F|40-F|8-K|6-K)\b", re.I)
_CHECKED_REPORT = re.compile(r"[☒☑✓✔Xx]\s*(QUARTERLY|ANNUAL) REPORT PURSUANT TO SECTION", re.I)
_PERIOD_END = re.compile(
    rf"for the (?:quarterly period|fiscal year|fiscal quarter|quarter|year|period)\s+ended:?\s*({DATE})", re.I
)
# The name is on the line above the caption, or (PDF text that joins the cover's cells) before it.
_REGISTRANT = re.compile(r"([^\n(]{2,120}?)(?:\n\s*|\s+)\(\s*exact name of (?:the )?registrant", re.I)
_FILE_NUMBER = re.compile(r"commission file (?:number|no\.?)[^\n]*\n((?:[^\n]*\n){1,4})", re.I)
_CORPORATE = re.compile(rf"\b(?:{LEGAL_FORMS})\b\.?,?\s*$", re.I)
_SYMBOL_HEADER = re.compile(r"trading\s+symbol", re.I)
_SYMBOL = re.compile(r"(?<![\w$.])([A-Z]{1,5}(?:[.-][A-Z]{1,2})?)(?![\w.-])")
_EXCHANGE = re.compile(r"nasdaq|new york stock exchange|nyse|cboe|stock exchange|stock market|bats", re.I)
_NOT_SYMBOLS = frozenset(
    {"LLC", "THE", "INC", "NYSE", "NASDAQ", "CBOE", "BZX", "LSE", "NA", "CORP", "PLC", "USD", "NV", "SA"}
)
_EQUITY_LINE = re.compile(r"common|ordinary|capital stock|depositary|shares", re.I)
_NOT_EQUITY = re.compile(r"preferred|preference|warrants?|notes?\b|debentures?|rights|bonds?", re.I)
_TABLE_END = re.compile(
    r"\s*(?:indicate by check mark|securities registered pursuant to section 12\s*\(g\))", re.I
)
_QUARTER_YEAR = re.compile(
    r"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter\s+(?:of\s+|in\s+)?"
    r"(?:fiscal\s+(?:year\s+)?|FY\s*)?(\d{4})\b"
    r"|\bQ([1-4])\s*(?:FY\s*|fiscal\s+(?:year\s+)?)?(\d{4})\b"
    r"|\bfiscal\s+(?:year\s+)?(\d{4})\s+(first|second|third|fourth)\s+quarter\b",
    re.I,
)
_FISCAL_YEAR = re.compile(r"\bfiscal\s+(?:year\s+)?(\d{4})\b|\bFY\s?(\d{4})\b", re.I)
_MONTHS_ENDED = re.compile(rf"\b(three|six|nine|twelve)[- ]month(?:s|\s+periods?)?\s+ended\s+({DATE})", re.I)
_MONTHS_HEADER = re.compile(r"\b(three|six|nine|twelve)[- ]months?\s+ended\b", re.I)
_MONTHS_WORD = {"three": 3, "six": 6, "nine": 9, "twelve": 12}
_RELEASE = re.compile(
    r"^\s*(?P<company>[A-Z][\w&.,' -]{1,60}?)\s+(?i:reports?|announces?|posts?)\s+"
    r"(?P<what>[^\n]{0,80}?)\b(?i:results|earnings)\b",
    re.M,
)
_RELEASE_PERIOD = re.compile(
    r"\b(first|second|third|fourth)\s+quarter(?:\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?|FY\s*)?(\d{4}))?"
    r"|\bQ([1-4])\s*(?:FY\s*|fiscal\s+)?'?(\d{2}|\d{4})\b|\bfiscal\s+(?:year\s+)?(\d{4})\b",
    re.I,
)
_CN_REPORT = re.compile(
    r"(?P<company>[\u4e00-\u9fff（）()A-Za-z]{2,40}?(?:股份有限公司|有限责任公司|有限公司|集团|公司))?\s*"
    r"(?P<year>\d{4})\s*年\s*(?P<kind>第?[一二三四1-4]\s*季度|半年度|年度)\s*报告"
)
_CN_CODE = re.compile(r"(?:股票|证券|公司|A股|A 股)代码\s*[:：]?\s*(\d{6})")
_CN_SHORT = re.compile(r"(?:股票|证券|公司|A股|A 股)简称\s*[:：]?\s*([\u4e00-\u9fffA-Za-z*]{2,12})")
_CN_NAME = re.compile(r"(?:公司(?:的)?中文名称|公司名称)\s*[:：]?\s*([\u4e00-\u9fff（）()]{4,40}公司)")
_CN_QUARTER = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_CN_PERIOD_END = {"Q1": (3, 31), "Q2": (6, 30), "H1": (6, 30), "Q3": (9, 30), "FY": (12, 31)}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_REPORT_PERIOD_END = re.compile(rf"\b(?:year|period|six months|half[- ]year)\s+ended\s+({DATE})", re.I)
_ANNUAL_TITLE = re.compile(r"\b(annual|interim|half[- ]year(?:ly)?)\s+report\b(?:\s+(\d{4}))?", re.I)

_IX_TAG = re.compile(r"<(/?)ix:non(?:Numeric|Fraction)\b([^>]*)>", re.I)
_DEI_NAME = re.compile(r"\bname\s*=\s*[\"']dei:(\w+)[\"']", re.I)
_TAG = re.compile(r"<[^>]+>")


def parse_date(text: str) -> date | None:
    """The date written in ``text`` (English month names, ISO, or 年月日), or None."""
    for pattern in _DATE_PARTS:
        match = pattern.search(text)
        if not match:
            continue
        a, b, c = match.groups()
        try:
            if pattern is _DATE_PARTS[0]:
                return date(int(c), _MONTHS[a.lower()], int(b))
            if pattern is _DATE_PARTS[1]:
                return date(int(c), _MONTHS[b.lower()], int(a))
            return date(int(a), int(b), int(c))
        except (ValueError, KeyError):
            return None
    return None


def _dei_values(raw_html: str) -> list[tuple[str, str]]:
    """(dei name, inner HTML) of each ``dei:`` element; elements nest ("For the fiscal year ended
    <DocumentPeriodEndDate><CurrentFiscalYearEndDate>September 28</…>, 2024</…>")."""
    values: list[tuple[str, str]] = []
    open_: list[tuple[str | None, int]] = []
    for tag in _IX_TAG.finditer(raw_html):
        if not tag.group(1):
            dei = _DEI_NAME.search(tag.group(2))
            open_.append((dei.group(1) if dei else None, tag.end()))
        elif open_:
            name, start = open_.pop()
            if name:
                values.append((name, raw_html[start : tag.start()]))
    return values


def xbrl_facts(raw_html: str) -> Facts:
    """Facts from inline-XBRL ``dei:`` tags (EntityRegistrantName, TradingSymbol, DocumentType, ...)."""
    found: dict[str, list[str]] = {}
    for name, inner in _dei_values(raw_html):
        value = " ".join(html.unescape(_TAG.sub("", inner)).split())
        if value:
            found.setdefault(name, []).append(value)
    facts: Facts = {}
    if found.get("EntityRegistrantName"):
        facts["company"] = found["EntityRegistrantName"][0]
    symbols = [s.upper() for s in found.get("TradingSymbol", []) if _SYMBOL.fullmatch(s.upper())]
    if symbols:
        facts["tickers"] = list(dict.fromkeys(symbols))
    if found.get("DocumentType"):
        facts["form"] = found["DocumentType"][0].upper()
    year = (found.get("DocumentFiscalYearFocus") or [""])[0]
    if year.isdigit() and len(year) == 4:
        facts["fiscal_year"] = int(year)
    period = (found.get("DocumentFiscalPeriodFocus") or [""])[0].upper()
    if period in ("Q1", "Q2", "Q3", "Q4", "H1", "H2", "FY"):
        facts["fiscal_period"] = period
    end = parse_date((found.get("DocumentPeriodEndDate") or [""])[0])
    if end:
        facts["period_end"] = end.isoformat()
    return facts


def _registrant(cover: str) -> str | None:
    match = _REGISTRANT.search(cover)
    if match:
        return " ".join(match.group(1).split()).strip(" _")
    block = _FILE_NUMBER.search(cover)
    if block:  # covers without the "(Exact name of registrant ...)" caption: first corporate name
        for line in block.group(1).splitlines():
            line = " ".join(line.split()).strip(" _")
            if _CORPORATE.search(line) and len(line) <= 120:
                return line
    return None


def _tickers(cover: str) -> list[str]:
    """Symbols of the registered equity in the 'Trading Symbol(s)' table (notes, warrants and
    preferred series have their own symbols and are not what people call the company's ticker)."""
    header = _SYMBOL_HEADER.search(cover)
    if header is None:
        return []
    lines = cover.splitlines()
    at = cover.count("\n", 0, header.start())
    equity: list[str] = []
    other: list[str] = []
    for index in range(max(0, at - 4), min(len(lines), at + 25)):
        line = lines[index]
        if _TABLE_END.match(line):
            if index > at:
                break
            equity, other = [], []  # the rows above the header belong to another part of the cover
            continue
        exchange = _EXCHANGE.search(line)
        if exchange is None:
            continue
        symbols = [s for s in _SYMBOL.findall(line[: exchange.start()]) if s not in _NOT_SYMBOLS]
        if symbols:
            is_equity = _EQUITY_LINE.search(line) and not _NOT_EQUITY.search(line)
            (equity if is_equity else other).append(symbols[-1])
    return list(dict.fromkeys(equity or other[:1]))


def _chinese_cover(cover: str) -> Facts:
    facts: Facts = {}
    report = _CN_REPORT.search(cover)
    if report:
        kind = report.group("kind").replace(" ", "")
        facts["fiscal_year"] = int(report.group("year"))
        if kind == "年度":
            facts["form"], facts["fiscal_period"] = "annual report", "FY"
        elif kind == "半年度":
            facts["form"], facts["fiscal_period"] = "interim report", "H1"
        else:
            quarter = _CN_QUARTER[kind.strip("第季度")]
            facts["form"], facts["fiscal_period"] = "quarterly report", f"Q{quarter}"
        if report.group("company"):
            facts["company"] = report.group("company")
    name = _CN_NAME.search(cover)
    if name and "company" not in facts:
        facts["company"] = name.group(1)
    codes = list(dict.fromkeys(_CN_CODE.findall(cover)))
    if codes:
        facts["tickers"] = codes
    shorts = list(dict.fromkeys(s.strip("*") for s in _CN_SHORT.findall(cover)))
    if shorts:
        facts["aliases"] = shorts
    return facts


def _release_cover(cover: str) -> Facts:
    """An earnings release: 'NVIDIA Announces Financial Results for Third Quarter Fiscal 2024'."""
    head = "\n".join(cover.splitlines()[:6])
    match = _RELEASE.search(head)
    if match is None:
        return {}
    facts: Facts = {"form": "earnings release", "company": match.group("company").strip(" ,")}
    period = _RELEASE_PERIOD.search(match.group("what") + " " + head[match.end() : match.end() + 80])
    if period:
        word, year, q_num, q_year, fy = period.groups()
        quarter = QUARTER_WORDS.get((word or "").lower()) or (int(q_num) if q_num else None)
        year_text = year or q_year or fy
        if year_text:
            facts["fiscal_year"] = int(year_text) + (2000 if len(year_text) == 2 else 0)
        if quarter:
            facts["fiscal_period"] = f"Q{quarter}"
        elif fy and re.search(r"full[- ]year|fiscal\s+(?:year\s+)?\d{4}\s+results", head, re.I):
            facts["fiscal_period"] = "FY"
    return facts


def cover_facts(cover: str) -> Facts:
    """Facts stated on the first pages: form, registrant, trading symbols, period end."""
    facts: Facts = {}
    form = _SEC_FORM.search(cover)
    checked = _CHECKED_REPORT.search(cover)
    if form:
        facts["form"] = form.group(1).upper()
    elif checked:
        facts["form"] = "10-Q" if checked.group(1).upper() == "QUARTERLY" else "10-K"
    if facts:
        name = _registrant(cover)
        if name:
            facts["company"] = name
        tickers = _tickers(cover)
        if tickers:
            facts["tickers"] = tickers
        end = _PERIOD_END.search(cover)
        parsed = parse_date(end.group(1)) if end else None
        if parsed:
            facts["period_end"] = parsed.isoformat()
        return facts
    chinese = _chinese_cover(cover)
    if "form" in chinese:
        return chinese
    release = _release_cover(cover)
    if release:
        return release
    title = _ANNUAL_TITLE.search("\n".join(cover.splitlines()[:8]))
    if title:
        kind = title.group(1).lower()
        facts["form"] = "annual report" if kind == "annual" else "interim report"
        if title.group(2):
            facts["fiscal_year"] = int(title.group(2))
        facts["fiscal_period"] = "FY" if kind == "annual" else "H1"
        end = _REPORT_PERIOD_END.search(cover)
        parsed = parse_date(end.group(1)) if end else None
        if parsed:
            facts["period_end"] = parsed.isoformat()
    return facts


def _quarter_from_months(text: str, end: date | None) -> int | None:
    """The quarter a 10-Q covers, from its longest 'N months ended <period end>' column."""
    months = [
        _MONTHS_WORD[m.group(1).lower()]
        for m in _MONTHS_ENDED.finditer(text)
        if end is not None and parse_date(m.group(2)) == end
    ]
    if not months:  # no dated phrase: the column headers of the statements ("Nine Months Ended")
        months = [_MONTHS_WORD[m.lower()] for m in _MONTHS_HEADER.findall(text)]
    longest = max((m for m in months if m <= 9), default=0)  # trailing twelve months are no quarter
    return longest // 3 if longest else None


def _year_for_quarter(text: str, quarter: int, end: date) -> int | None:
    """The fiscal year a 10-Q names for its own quarter: the latest year consistent with the period
    end among '<quarter> quarter of (fiscal) YYYY' phrases (earlier ones are comparatives)."""
    allowed = _fiscal_year_candidates(end + timedelta(days=91 * (4 - quarter)))
    years: set[int] = set()
    for match in _QUARTER_YEAR.finditer(text):
        word, year, q_num, q_year, fy, fy_word = match.groups()
        q = QUARTER_WORDS.get((word or fy_word or "").lower()) or (int(q_num) if q_num else 0)
        y = int(year or q_year or fy)
        if q == quarter and y in allowed:
            years.add(y)
    return max(years) if years else None


def _fiscal_year_candidates(fiscal_end: date) -> tuple[int, int]:
    """A fiscal year is named after the calendar year it ends in or, by some issuers, starts in."""
    return fiscal_end.year, fiscal_end.year - 1


def _named_fiscal_year(text: str, fiscal_end: date, *, exact: bool) -> int | None:
    """The name of the fiscal year ending on (about) ``fiscal_end``, as the filing states it.

    In order: 'fiscal YYYY' written next to the exact year-end date ('January 31, 2025 ("fiscal
    2025")'); a year ending in December is that calendar year; a clear majority of 'fiscal YYYY'
    mentions; a year ending April to November is named after its end (US practice). Year ends in
    January to March are named either way by different issuers, so without a statement: unknown.
    """
    candidates = _fiscal_year_candidates(fiscal_end)
    if fiscal_end.month == 12:
        return fiscal_end.year
    if exact:
        written = _date_variants(fiscal_end)
        for match in _FISCAL_YEAR.finditer(text):
            year = int(match.group(1) or match.group(2))
            window = text[max(0, match.start() - 90) : match.end() + 90].lower()
            if year in candidates and any(w in window for w in written):
                return year
    counts = Counter(int(a or b) for a, b in _FISCAL_YEAR.findall(text) if int(a or b) in candidates)
    ranked = counts.most_common()
    if ranked and ranked[0][1] >= 3 and (len(ranked) == 1 or ranked[0][1] >= 2 * ranked[1][1]):
        return ranked[0][0]
    return fiscal_end.year if 4 <= fiscal_end.month <= 11 else None


def _date_variants(day: date) -> tuple[str, ...]:
    """How a date is commonly written (lower case), to find it near a 'fiscal YYYY' phrase."""
    month = day.strftime("%B").lower()
    return (f"{month} {day.day}, {day.year}", f"{month} {day.day} {day.year}", day.isoformat())


def _chinese_period_end(text: str, facts: Facts) -> Facts:
    """The period end of a mainland periodic report, when the report writes that date (the
    statutory accounting year is the calendar year, so Q1 ends on 3月31日, H1 on 6月30日, ...)."""
    year, period = facts.get("fiscal_year"), facts.get("fiscal_period")
    month_day = _CN_PERIOD_END.get(str(period))
    if not year or month_day is None:
        return {}
    month, day = month_day
    if re.search(rf"{year}\s*年\s*0?{month}\s*月\s*{day}\s*日", text):
        return {"period_end": date(int(year), month, day).isoformat()}
    return {}


def period_facts(text: str, facts: Facts) -> Facts:
    """Fiscal quarter and year of an SEC filing from its body, given its form and period end;
    the period end of a Chinese periodic report."""
    form, end_text = facts.get("form"), facts.get("period_end")
    if _CJK.search(text[:2000]) and form in ("annual report", "interim report", "quarterly report"):
        return {} if end_text else _chinese_period_end(text, facts)
    if form not in ("10-Q", "10-K", "10-QT", "10-KT", "20-F", "40-F") or not end_text:
        return {}
    end = date.fromisoformat(end_text)
    out: Facts = {}
    if form.startswith("10-Q"):
        quarter = _quarter_from_months(text, end)
        if quarter is None:
            return {}
        out["fiscal_period"] = f"Q{quarter}"
        year = _year_for_quarter(text, quarter, end)
        if year is None:
            fiscal_end = end + timedelta(days=91 * (4 - quarter))
            year = _named_fiscal_year(text, fiscal_end, exact=False)
        if year is not None:
            out["fiscal_year"] = year
        return out
    out["fiscal_period"] = "FY"
    year = _named_fiscal_year(text, end, exact=True)
    if year is not None:
        out["fiscal_year"] = year
    return out
