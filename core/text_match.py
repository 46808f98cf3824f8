"""Key terms and numbers of a text, in English and Chinese, for checking a sentence against sources.

Numbers are compared by value: full-width digits are folded (``１２`` → 12), thousands separators
dropped, and Chinese multipliers applied (``3.5亿`` → 350000000, ``1,200万`` → 12000000), so a
sentence that writes an amount one way matches a source that writes it another. Key terms are the
BM25 terms of ``core.text_tokenize`` (stemmed English words, jieba-segmented Chinese words) without
numbers, English words of one or two letters or single Han characters.
Example: ``number_values("营收3.5亿元，增长１２％")`` → ``{"350000000", "12"}``.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from core.text_tokenize import tokenize

# A number must not continue a Latin word or another number ("A4", "v2.1"), but may follow a Han
# character directly ("收入3.5亿"), which the \w-based English pattern would miss. A form's name
# ("10-Q", "8-K", "20-F") is no figure; "5-year" keeps its number.
_NUMBER = re.compile(
    r"(?<![0-9A-Za-z.])\$?(\d[\d,]*(?:\.\d+)?)(?!\d|-[A-Z]\b)(?:\s?(千万|百万|万亿|亿|万|千))?"
)
_MULTIPLIERS = {
    "千": Decimal(10) ** 3,
    "万": Decimal(10) ** 4,
    "百万": Decimal(10) ** 6,
    "千万": Decimal(10) ** 7,
    "亿": Decimal(10) ** 8,
    "万亿": Decimal(10) ** 12,
}
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def language_of(text: str) -> str:
    """ "zh" when ``text`` is mostly Chinese (Han characters outnumber Latin letters), else "en"."""
    letters = [c for c in text if c.isalpha()]
    han = sum(1 for c in letters if _HAN.match(c))
    latin = sum(1 for c in letters if c.isascii())
    return "zh" if han and han >= latin / 3 else "en"


def has_han(text: str) -> bool:
    """Whether ``text`` contains any Han character."""
    return _HAN.search(text) is not None


def compact(text: str) -> str:
    """Letters and digits only, full-width folded, lower case: "约为０.304平方公里。" → "约为0304平方公里"."""
    return "".join(c for c in fold(text).lower() if c.isalnum())


def fold(text: str) -> str:
    """Full-width letters, digits and punctuation as their ASCII forms (NFKC)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def _canonical(value: Decimal) -> str:
    """A value as a plain decimal string without trailing zeros: 14.50 → "14.5", 1.2E+7 → "12000000"."""
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def number_values(text: str) -> set[str]:
    """Every number in ``text`` by value, Chinese multipliers applied (see the module docstring)."""
    out: set[str] = set()
    for digits, unit in _NUMBER.findall(fold(text)):
        try:
            value = Decimal(digits.replace(",", ""))
        except InvalidOperation:
            continue
        out.add(_canonical(value * _MULTIPLIERS[unit] if unit else value))
    return out


def key_terms(text: str) -> set[str]:
    """Content terms of ``text``: stemmed English words of 3+ letters and Chinese words of 2+ characters."""
    terms: set[str] = set()
    for term in tokenize(text):
        if term.replace(".", "").isdigit():
            continue
        if _HAN.search(term):
            if len(term) >= 2:
                terms.add(term)
        elif len(term) > 2:
            terms.add(term)
    return terms


def term_overlap(sentence: str, passages: str) -> float:
    """Share of the sentence's key terms found in ``passages`` (1.0 when it has none)."""
    terms = key_terms(sentence)
    if not terms:
        return 1.0
    return len(terms & key_terms(passages)) / len(terms)
