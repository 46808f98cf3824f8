"""Figures read off the table rows a question names, in the period it names, without the model.

"What was Apple's gross margin in the latest 10-Q?" is answered by one row of one table: the model
only has to copy a figure, and a 1.5B model copies the wrong column often enough (the nine-month
total for "last quarter") that reading the cell in Python is both faster and right. The rows are
those whose labels the question names (``retrieval.table_rows``) in the best-ranked passage naming
one: the best-named row, and others of the passage naming other things the question asks for
("gaming and professional visualization"). The columns are those of the years the question names
(else the latest year the table shows), of the duration it names ("quarter" → three months) and of
the quarter it names where a column names one; change columns are left out. Up to two cells per
row are shown as the table states them, with the table's scale; more (the question does not say
which period) is no lookup, and the model answers as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.types import Hit
from generation.numeric import NumberCell, asks_calculation, duration_of, number_cells, years_in
from retrieval.table_rows import RowMatch, label_match

MAX_CELLS = 2  # per row
MAX_ROWS = 3
_CHANGE = re.compile(r"\bchange\b|\bvariance\b|%|变动|变化", re.I)
_QUARTER = re.compile(r"\b(?:(first|second|third|fourth)\s+quarter|Q([1-4]))\b", re.I)
_CURRENCIES = ("$", "€", "£", "¥")
_ORDINAL = {"first": "1", "second": "2", "third": "3", "fourth": "4"}


@dataclass(frozen=True)
class TableLookup:
    """Rows of one passage's table (label, cells) that answer a figure question."""

    rows: tuple[tuple[str, tuple[NumberCell, ...]], ...]

    @property
    def n(self) -> int:
        return self.rows[0][1][0].n

    def text(self) -> str:
        """ "Total gross margin — Three Months Ended July 1, 2023: $36,413 million; … [1]." per row."""
        return " ".join(
            f"{label} — {'; '.join(_cell_text(c) for c in cells)} [{self.n}]." for label, cells in self.rows
        )


def _cell_text(cell: NumberCell) -> str:
    text = cell.cell.text.strip()
    unit, scale = cell.table.unit, cell.table.scale
    if unit in _CURRENCIES and "%" not in text and not any(c in text for c in _CURRENCIES):
        text = f"{unit}{text}"  # statements print the currency on a column's first row only
    value = f"{text} {scale}" if scale and "%" not in text else text
    return f"{cell.cell.column}: {value}" if cell.cell.column else value


def _quarters(text: str) -> set[str]:
    return {_ORDINAL.get(word.lower(), number) for word, number in _QUARTER.findall(text)}


def _period_cells(question: str, cells: list[NumberCell]) -> list[NumberCell]:
    """A row's cells of the period the question names (the latest year shown when it names none)."""
    cells = [c for c in cells if not _CHANGE.search(c.cell.column)]
    years, duration = years_in(question), duration_of(question)
    if years:
        cells = [c for c in cells if years & years_in(c.cell.column)]
    elif shown := [int(y) for c in cells for y in years_in(c.cell.column)]:
        latest = str(max(shown))
        cells = [c for c in cells if latest in years_in(c.cell.column)]
    if duration is not None:
        cells = [c for c in cells if duration_of(c.cell.column) == duration]
    if quarters := _quarters(question):  # "Q1 2023" is not the column "Q3 2023 Amount"
        cells = [c for c in cells if not _quarters(c.cell.column) or quarters & _quarters(c.cell.column)]
    return cells


def look_up(question: str, hits: list[Hit], row_terms: frozenset[str]) -> TableLookup | None:
    """The rows the question names and their cells for the period it names (None: no row named, a
    calculation question, or no single reading of the period)."""
    if not row_terms or asks_calculation(question):
        return None
    cells = number_cells(hits, rest_of_tables=False)  # a figure is read where a passage shows it
    matches: dict[tuple[int, str], RowMatch] = {}
    for c in cells:
        match = label_match(row_terms, c.cell.row)
        if match is not None:
            matches[(c.n, c.cell.row)] = match
    if not matches:
        return None
    # the best-ranked passage naming a row (among several companies' tables the first retrieved
    # is the likeliest to be the one asked about), its rows by words named and fullness; a passage
    # whose rows have no single reading of the period gives way to the next one
    order = sorted(matches, key=lambda k: (k[0], -matches[k].matched, -matches[k].coverage))
    for n in dict.fromkeys(k[0] for k in order):
        rows = _rows(question, [k for k in order if k[0] == n], matches, cells)
        if rows:
            return TableLookup(tuple(rows))
    return None


def _rows(
    question: str,
    keys: list[tuple[int, str]],
    matches: dict[tuple[int, str], RowMatch],
    cells: list[NumberCell],
) -> list[tuple[str, tuple[NumberCell, ...]]]:
    """One passage's named rows with their cells of the period asked ([] when a row has none, or
    more than ``MAX_CELLS``). A row naming only what a chosen row named ("Total gross margin" after
    "Gross margin") is left out."""
    named: set[str] = set()
    rows: list[tuple[str, tuple[NumberCell, ...]]] = []
    for key in keys:
        match = matches[key]
        if match.terms & named or len(rows) == MAX_ROWS:
            continue
        picked = _period_cells(question, [c for c in cells if (c.n, c.cell.row) == key])
        if not 1 <= len(picked) <= MAX_CELLS:
            return []
        named |= match.terms
        rows.append((key[1], tuple(picked)))
    return sorted(rows, key=lambda row: cells.index(row[1][0]))  # in the table's order
