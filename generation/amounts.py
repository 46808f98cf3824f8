"""Amounts as stated in text, with their scale ("$39.7 billion", "67,210 thousand", "(1.6)"), for
matching answers against gold figures within rounding and scale (``kb eval answers``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCALE_WORDS = {
    "thousand": 1e3,
    "thousands": 1e3,
    "k": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
}
_AMOUNT = re.compile(
    r"(?<![\w.])([$€£¥]\s?)?(\()?(-|−)?(\d[\d,]*(?:\.\d+)?)\)?\s?"
    r"(%|percent\b|per\s+cent\b|thousands?\b|millions?\b|billions?\b|trillion\b|bn\b|mn\b|[kmb]\b)?",
    re.I,
)


@dataclass(frozen=True)
class Amount:
    """A number as written: its face value, half a unit of its last printed digit (the rounding it
    allows), and the factor of the scale word after it (None: no scale word)."""

    value: float
    tolerance: float
    scale: float | None
    money: bool
    percent: bool = False

    def absolute(self) -> tuple[float, float] | None:
        """(value, tolerance) in units, when a scale word says how big it is."""
        if self.scale is None:
            return None
        return self.value * self.scale, self.tolerance * self.scale


def amounts_in(text: str) -> list[Amount]:
    """Every number in ``text`` with its scale word, signs from "-" or parentheses."""
    out = []
    for match in _AMOUNT.finditer(re.sub(r"\[\d+(?:\s*[,;]\s*\d+)*\]", " ", text)):
        money, paren, minus, digits, word = match.groups()
        value = float(digits.replace(",", ""))
        places = len(digits.split(".")[1]) if "." in digits else 0
        word = (word or "").lower()
        scale = _SCALE_WORDS.get(word)
        negative = bool(minus) or (bool(paren) and match.group(0).rstrip().endswith(")"))
        percent = word == "%" or word.startswith("per")
        out.append(Amount(-value if negative else value, 0.5 * 10**-places, scale, bool(money), percent))
    return out


def scale_factor(scale: str) -> float | None:
    """The factor of a dataset's scale label ("thousand" → 1e3; "" or "percent" → None)."""
    return _SCALE_WORDS.get(scale.strip().lower())


def amount_matches(gold: Amount, stated: list[Amount], gold_scale: float | None = None) -> bool:
    """A stated amount equals ``gold`` up to the rounding of either, sign ignored ("decreased by 5"
    states -5). With a scale on both sides they are compared in units ("$67.2 million" = 67,210
    thousand; "4,143 million" ≠ 4,143 thousand); an amount without a scale word is compared at face
    value (answers may give a figure in the table's own units)."""
    scale = gold.scale or gold_scale
    for amount in stated:
        # Either side may be the rounded one: "$1.3 billion" is a right answer for 1,266 million.
        if amount.scale is not None and scale is not None:
            tolerance = max(amount.tolerance * amount.scale, gold.tolerance * scale)
            if abs(abs(amount.value) * amount.scale - abs(gold.value) * scale) <= tolerance * 1.0001:
                return True
        elif abs(abs(amount.value) - abs(gold.value)) <= max(amount.tolerance, gold.tolerance) * 1.0001:
            return True
    return False
