"""What a question says about periods, forms and organisations, read from its wording.

Used by ``retrieval.routing`` to match a question against document facts. English and Chinese:
"Q3 FY23", "fiscal 2022", "FY2018", "third quarter of 2023", "the latest 10-Q", "last quarter",
"2023年第三季度", "2023年年度报告", "最新一期". Only what is written is returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.facts import QUARTER_WORDS

_CN_NUMBER = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_QUARTER_PATTERNS = (
    # Q3 2023, Q3 FY23, Q3 of fiscal 2024, Q3'23, 3Q23, 3Q FY2023
    re.compile(
        r"\b(?:Q([1-4])|([1-4])Q)\s*(?:of\s+)?(?:(FY|fiscal(?:\s+year)?)\s*)?(?:'|’)?(\d{4}|\d{2})\b", re.I
    ),
    # FY23 Q3, fiscal 2024 Q1, FY2023 third quarter
    re.compile(
        r"\b(FY|fiscal(?:\s+year)?)\s*(?:'|’)?(\d{4}|\d{2})\s*(?:Q([1-4])|(first|second|third|fourth)\s+quarter)\b",
        re.I,
    ),
    # third quarter of 2023, second quarter of fiscal 2024, 3rd quarter FY23, Q3 of 2023
    re.compile(
        r"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter\s*(?:of|in|for)?\s*"
        r"(?:the\s+)?(FY|fiscal(?:\s+year)?)?\s*(?:'|’)?(\d{4}|\d{2})\b",
        re.I,
    ),
)
_FISCAL_YEAR = re.compile(r"\b(FY|fiscal(?:\s+year)?)\s*(?:'|’)?(\d{4}|\d{2})\b", re.I)
_BARE_YEAR = re.compile(r"(?<![\d$.,])((?:19|20)\d{2})(?![\d%])")
_BARE_QUARTER = re.compile(r"\b(?:(first|second|third|fourth)\s+quarter|Q([1-4]))\b", re.I)
_HALF = re.compile(
    r"\b(first|second)\s+half\s+(?:of\s+)?(?:(FY|fiscal(?:\s+year)?)\s*)?(\d{4})\b"
    r"|\b([12])H\s*(\d{2,4})\b|\bH([12])\s*(\d{4})\b",
    re.I,
)
_LATEST = re.compile(
    r"\b(?:latest|most\s+recent|newest|last|recent|current|this)\s+(?:reported\s+|fiscal\s+)?"
    r"(?:quarter(?:ly)?|10-?[QK]|filing|report|period|annual\s+report|fiscal\s+year|year)\b"
    r"|\b(?:latest|most\s+recent|newest)\b",
    re.I,
)
_CN_QUARTER = re.compile(r"(\d{4})\s*年\s*(?:第\s*)?([一二三四1-4])\s*季度")
_CN_HALF = re.compile(r"(\d{4})\s*年\s*(?:半年度|上半年|中期|半年报)")
_CN_ANNUAL = re.compile(r"(\d{4})\s*(?:年度|年年度|年全年|年年报|年报)")
_CN_YEAR = re.compile(r"(\d{4})\s*年")
_CN_LATEST = re.compile(r"最新|最近一期|最近的|上一季度|上季度|本季度|最近一个季度")
_FORMS = (
    ("10-Q", re.compile(r"\b10-?Q\b|\bquarterly\s+(?:report|filing)s?\b|季度报告|季报", re.I)),
    ("10-K", re.compile(r"\b10-?K\b|\bannual\s+(?:report|filing)s?\b|年度报告|年报", re.I)),
    ("20-F", re.compile(r"\b20-?F\b", re.I)),
    ("earnings release", re.compile(r"\bearnings\s+(?:release|report)s?\b|\bpress\s+release", re.I)),
)

# Words that start with a capital but are not organisations when they precede "'s" or a verb.
_NOT_ORGS = frozenset(
    [
        "the",
        "a",
        "an",
        "what",
        "which",
        "who",
        "how",
        "why",
        "when",
        "where",
        "is",
        "are",
        "was",
        "were",
        "did",
        "does",
        "do",
        "has",
        "have",
        "had",
        "can",
        "could",
        "should",
        "would",
        "will",
        "in",
        "on",
        "of",
        "for",
        "by",
        "from",
        "to",
        "and",
        "or",
        "its",
        "their",
        "this",
        "that",
        "these",
        "those",
        "company",
        "company's",
        "firm",
        "today",
        "year",
        "quarter",
        "management",
        "board",
        "i",
        "we",
        "our",
        "us",
        "it",
    ]
)
_CAP = r"[A-Z][\w&.\-]*"
_ORG_PATTERNS = (
    re.compile(rf"\b({_CAP}(?:\s+(?:&\s+)?{_CAP}){{0,3}})['’]s\b"),
    re.compile(
        rf"\b({_CAP}(?:\s+(?:&\s+)?{_CAP}){{0,3}})\s*,?\s+(?:Inc|Corp|Corporation|Ltd|Limited|plc|PLC|"
        r"LLC|Holdings|Group|AG|SE|N\.V|S\.A)\b"
    ),
    re.compile(r"(?:\$|\b(?:NASDAQ|NYSE|ticker|symbol)\s*:?\s*)([A-Z]{1,5})\b"),
    re.compile(
        rf"\b(?:[Bb]y|[Dd]id|[Dd]oes|[Hh]as|[Hh]ave|[Ff]or|[Aa]t|[Ff]rom|[Oo]f)\s+({_CAP}(?:\s+{_CAP}){{0,2}})\s+"
        r"(?:report|reported|reports|disclose|disclosed|discloses|announce|announced|mention|mentioned|"
        r"in\s+its|in\s+their|in\s+the|allocate|spend|spent|invest|invested|undertake|generate|generated|record|recorded)\b"
    ),
    re.compile(rf"\b({_CAP}(?:\s+{_CAP}){{0,2}})\s+(?:10-?[QK]|annual\s+report|quarterly\s+report)\b"),
)
_CN_ORG = re.compile(
    r"([\u4e00-\u9fff]{2,12}?(?:股份有限公司|有限公司|集团|银行|证券|保险|控股))|(?:股票代码|证券代码)\s*[:：]?\s*(\d{6})"
)


@dataclass(frozen=True)
class PeriodAsk:
    """A period the question names. ``fiscal``: the wording says fiscal ("FY", "fiscal"), so a
    calendar reading does not apply; ``period`` is Q1-Q4, H1/H2, FY or None (a year only)."""

    year: int
    period: str | None
    fiscal: bool


def _full_year(text: str) -> int:
    return int(text) if len(text) == 4 else 2000 + int(text)


def periods_in(question: str) -> list[PeriodAsk]:
    """Every period the question names, most specific first, without repeats."""
    found: list[PeriodAsk] = []
    spans: list[tuple[int, int]] = []

    def add(ask: PeriodAsk, span: tuple[int, int]) -> None:
        spans.append(span)
        if ask not in found:
            found.append(ask)

    for match in _QUARTER_PATTERNS[0].finditer(question):
        q = int(match.group(1) or match.group(2))
        add(PeriodAsk(_full_year(match.group(4)), f"Q{q}", bool(match.group(3))), match.span())
    for match in _QUARTER_PATTERNS[1].finditer(question):
        q = int(match.group(3)) if match.group(3) else QUARTER_WORDS[match.group(4).lower()]
        add(PeriodAsk(_full_year(match.group(2)), f"Q{q}", True), match.span())
    for match in _QUARTER_PATTERNS[2].finditer(question):
        q = QUARTER_WORDS[match.group(1).lower()]
        add(PeriodAsk(_full_year(match.group(3)), f"Q{q}", bool(match.group(2))), match.span())
    for match in _HALF.finditer(question):
        if match.group(3):
            half, year = QUARTER_WORDS[match.group(1).lower()], int(match.group(3))
            fiscal = bool(match.group(2))
        elif match.group(5):
            half, year, fiscal = int(match.group(4)), _full_year(match.group(5)), False
        else:
            half, year, fiscal = int(match.group(6)), int(match.group(7)), False
        add(PeriodAsk(year, f"H{half}", fiscal), match.span())
    for match in _CN_QUARTER.finditer(question):
        add(PeriodAsk(int(match.group(1)), f"Q{_CN_NUMBER[match.group(2)]}", False), match.span())
    for match in _CN_HALF.finditer(question):
        add(PeriodAsk(int(match.group(1)), "H1", False), match.span())
    for match in _CN_ANNUAL.finditer(question):
        add(PeriodAsk(int(match.group(1)), "FY", False), match.span())

    def covered(span: tuple[int, int]) -> bool:
        return any(a <= span[0] < b or a < span[1] <= b for a, b in spans)

    for match in _FISCAL_YEAR.finditer(question):
        if not covered(match.span()):
            add(PeriodAsk(_full_year(match.group(2)), None, True), match.span())
    for pattern in (_BARE_YEAR, _CN_YEAR):
        for match in pattern.finditer(question):
            if not covered(match.span()):
                add(PeriodAsk(int(match.group(1)), None, False), match.span())
    return found


def quarter_only(question: str) -> int | None:
    """A quarter named without a year ("the third quarter"), when no dated period is named."""
    if periods_in(question):
        return None
    match = _BARE_QUARTER.search(question)
    if match is None:
        return None
    return QUARTER_WORDS[match.group(1).lower()] if match.group(1) else int(match.group(2))


def wants_latest(question: str) -> bool:
    """The question asks for the newest period ("the latest 10-Q", "last quarter", "最新")."""
    return bool(_LATEST.search(question) or _CN_LATEST.search(question))


def forms_in(question: str) -> list[str]:
    """Filing forms the question names (10-Q, 10-K, 20-F, earnings release)."""
    return [form for form, pattern in _FORMS if pattern.search(question)]


def org_mentions(question: str) -> list[str]:
    """Names the question uses as organisations: possessives ("NVIDIA's"), corporate suffixes
    ("Foo Inc."), tickers ("NYSE: FOO", "$FOO"), subjects of filing verbs ("did NVIDIA report",
    "by NVIDIA in its"), and Chinese company names or stock codes."""
    names: list[str] = []
    for pattern in _ORG_PATTERNS:
        for match in pattern.finditer(question):
            words = match.group(1).split()
            while words and words[0].lower().strip(".,") in _NOT_ORGS:
                words = words[1:]
            name = " ".join(words).strip(" .,")
            if name and name.lower() not in _NOT_ORGS and not re.fullmatch(r"Q[1-4]|FY\d*|\d+", name):
                names.append(name)
    for match in _CN_ORG.finditer(question):
        names.append(match.group(1) or match.group(2))
    return list(dict.fromkeys(names))
