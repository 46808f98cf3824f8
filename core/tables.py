"""Tables as cells: each figure with its row label, column header (often the period), and the unit
and scale the table states ("(in millions, except per share)").

Ingest keeps a table chunk's cells in the chunk's metadata (``TableCells.to_json``); answering reads
them back, or parses them from a passage's text when a passage carries none (an older chunk, a gold
passage), so figures can be checked against the row and period a sentence names and computed exactly.
Works on any table: headers are the rows at the top without figures (years excepted), up to three,
spanning labels filled to the right over empty cells.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.types import Hit

MAX_HEADER_ROWS = 3
LABEL_JOINER = " — "
VALUE_JOINER = "; "
_FIGURE = re.compile(r"^[\s$€£¥(+\-−–]*\d[\d,.\s]*%?\s*\)?$")
_YEAR = re.compile(r"^\s*(?:FY\s?'?)?(?:19|20)\d{2}\s*$|^\s*FY\s?'?\d{2}\s*$", re.I)
_NUMBER = re.compile(
    r"^\s*([$€£¥]?)\s*(\()?\s*([$€£¥]?)\s*([+\-−–]?)\s*(\d[\d,]*(?:\.\d+)?)\s*(%?)\s*\)?\s*(%?)\s*$"
)
# "(in millions)", "($ in thousands)", "in millions of dollars", "(000s)", "$'000", "€m", "RMB'000"
_SCALE_WORDS = re.compile(
    r"\bin\s+(?:[$€£¥]\s*|us\s*\$\s*|dollars\s+)?(thousands|millions|billions)\b"
    r"|\(\s*[$€£¥]?\s*(thousands|millions|billions)\s*\)"
    r"|(?:[$€£¥]|\b(?:US\$|RMB|HK\$|usd|eur|gbp))\s*['’]?\s*(000s?|m|mn|bn)\b"
    r"|\((000s?)\)|\b(?:in\s+)?['’]000s?\b",
    re.I,
)
SCALES = {"": 1.0, "thousand": 1e3, "million": 1e6, "billion": 1e9}
_SCALE_NAMES = {
    "thousands": "thousand",
    "millions": "million",
    "billions": "billion",
    "000": "thousand",
    "000s": "thousand",
    "m": "million",
    "mn": "million",
    "bn": "billion",
}


@dataclass(frozen=True)
class TableCell:
    """One figure (or text) of a table: its row label, column header (as headers say, joined over
    header rows: "Three Months Ended July 1, 2023") and the cell text as written."""

    row: str
    column: str
    text: str

    @property
    def value(self) -> float | None:
        return number_value(self.text)


@dataclass(frozen=True)
class TableCells:
    """A table's cells with what labels the whole table: caption (header rows that span it),
    statement (the section it sits under), and the scale and unit it states.

    A table too long for one chunk is split by rows; each chunk's ``cells`` are the rows its text
    shows, and ``others`` the rows of the same table that its other chunks show (a segment's share of
    the "Total" row two chunks further down is still one table's arithmetic)."""

    caption: str = ""
    statement: str = ""
    scale: str = ""  # "", thousand, million, billion
    unit: str = ""  # "$", "€", "£", "¥", "%" or ""
    cells: tuple[TableCell, ...] = field(default=())
    others: tuple[TableCell, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "caption": self.caption,
            "statement": self.statement,
            "scale": self.scale,
            "unit": self.unit,
            "cells": [[c.row, c.column, c.text] for c in self.cells],
        }
        if self.others:
            data["others"] = [[c.row, c.column, c.text] for c in self.others]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableCells:
        def read(key: str) -> tuple[TableCell, ...]:
            return tuple(TableCell(str(r), str(c), str(t)) for r, c, t in data.get(key) or ())

        return cls(
            str(data.get("caption") or ""),
            str(data.get("statement") or ""),
            str(data.get("scale") or ""),
            str(data.get("unit") or ""),
            read("cells"),
            read("others"),
        )


def number_value(text: str) -> float | None:
    """The number a cell states: "$ (1,234.5)" → -1234.5, "12%" → 12.0; None for text or blanks."""
    match = _NUMBER.match(text.replace("\u2212", "-"))
    if match is None:
        return None
    value = float(match.group(5).replace(",", ""))
    negative = bool(match.group(2)) or match.group(4) in ("-", "−", "–")
    return -value if negative else value


def scale_in(text: str) -> str:
    """The scale a table or passage states ("(in millions)" → "million"), or ""."""
    match = _SCALE_WORDS.search(text)
    if match is None:
        return ""
    word = next((g for g in match.groups() if g), "000")
    return _SCALE_NAMES.get(word.lower(), "thousand")


def unit_in(texts: Sequence[str]) -> str:
    """The currency or percent the cells are written in, when most figures carry it."""
    marks = [m for t in texts for m in re.findall(r"[$€£¥%]", t)]
    if not marks:
        return ""
    counts = Counter(marks)  # a tie goes to the mark written first, whatever the hash seed
    return next(m for m in marks if counts[m] == max(counts.values()))


def _no_figures(row: Sequence[str]) -> bool:
    cells = [c.strip() for c in row if c.strip()]
    return bool(cells) and not any(_FIGURE.match(c) and not _YEAR.match(c) for c in cells)


def _column_header(row: Sequence[str]) -> bool:
    """A header row below the first: no figures, and the corner empty or the columns naming years
    ("At December 31: | 2019 | 2018")."""
    years = any(_YEAR.match(c) for c in row[1:] if c.strip())
    return _no_figures(row) and (not row[0].strip() or years)


def header_count(rows: Sequence[Sequence[str]], header: bool) -> int:
    """How many rows at the top are headers. The first is one when the loader said so, when it holds
    no figures and either leaves the corner cell empty or names years, or when it is a caption row
    (one label, like "($ in millions)") over such a header row; the rows after it (at most three in
    all) when they hold no figures and leave the corner empty or name years."""
    if len(rows) < 2:
        return 0
    first = rows[0]
    caption = len([c for c in first if c.strip()]) == 1 and _no_figures(first) and len(rows) > 2
    if not (header or _column_header(first) or (caption and _column_header(rows[1]))):
        return 0
    count = 1
    while count < min(MAX_HEADER_ROWS, len(rows) - 1) and _column_header(rows[count]):
        count += 1
    return count


@dataclass(frozen=True)
class TableLayout:
    """A table's grid (rows padded to one width), header rows, caption and column headers."""

    grid: list[list[str]]
    header_rows: int
    caption: str
    columns: list[str]

    def cells(self, rows: range | None = None, statement: str = "", context: str = "") -> TableCells:
        """The cells of body rows ``rows`` (indexes into the body; all by default), with the scale
        and unit the caption, the statement or ``context`` (e.g. the text before the table) state."""
        body = self.grid[self.header_rows :]
        picked = [body[i] for i in (rows if rows is not None else range(len(body)))]
        cells = tuple(
            TableCell(row[0], self.columns[i], row[i])
            for row in picked
            for i in range(1, len(row))
            if row[i] and (row[0] or self.columns[i])
        )
        labels = " ".join([self.caption, *self.columns, statement, context])
        scale = scale_in(labels) or scale_in(" ".join(r[0] for r in self.grid))
        unit = "%" if re.search(r"\bpercent|\(%\)|%\s*$", labels) else unit_in([c.text for c in cells])
        return TableCells(self.caption, statement, scale, unit, cells)


def layout(rows: Sequence[Sequence[str]], header: bool = False) -> TableLayout:
    """The layout of a table given row by row (first column = row labels)."""
    width = max((len(r) for r in rows), default=0)
    grid = [[c.strip() for c in r] + [""] * (width - len(r)) for r in rows]
    count = header_count(grid, header)
    columns = [""] * width
    caption: list[str] = []
    for row in grid[:count]:
        filled = [i for i, c in enumerate(row) if c]
        if len(filled) == 1 and width > 2:
            caption.append(row[filled[0]])  # one label over the whole table
            continue
        label = ""
        for i in range(1, width):
            label = row[i] or label  # a label spans the empty cells to its right
            if label:
                columns[i] = f"{columns[i]} {label}".strip()
    return TableLayout(grid, count, " ".join(caption), columns)


def _rendered_row(line: str) -> tuple[str, list[tuple[str, str]]] | None:
    """``Label — col: value; col: value`` → (label, [(col, value)]); None for other lines."""
    label, sep, rest = line.partition(LABEL_JOINER)
    if not sep:
        label, rest = "", line
    pairs = []
    for part in rest.split(VALUE_JOINER):
        column, colon, value = part.rpartition(": ")
        if not colon or number_value(value) is None:
            return None
        pairs.append((column.strip(), value.strip()))
    return (label.strip(), pairs) if pairs else None


def parse_table_text(text: str, statement: str = "") -> TableCells | None:
    """The cells of a passage that holds a table, read from its text: rows rendered with their
    headers (``Revenue — 2019: 1,234; 2018: 1,100``, as table chunks are written) or pipe rows
    (``Revenue | 1,234 | 1,100`` under header rows). None when it holds no such table."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    rendered = [(n, r) for n, line in enumerate(lines) if (r := _rendered_row(line)) is not None]
    if rendered:
        first = rendered[0][0]
        cells = tuple(TableCell(label, col, value) for _, (label, pairs) in rendered for col, value in pairs)
        caption = " ".join(lines[max(0, first - 1) : first])
        return TableCells(caption, statement, scale_in(text), unit_in([c.text for c in cells]), cells)
    piped = [n for n, line in enumerate(lines) if "|" in line]
    if len(piped) < 2:
        return None
    start = piped[0]
    rows = [[c.strip() for c in lines[n].split("|")] for n in piped if n >= start]
    grid = layout(rows)
    if not grid.header_rows:
        return None
    context = " ".join(lines[:start]) + " " + " ".join(lines[piped[-1] + 1 :])
    table = grid.cells(statement=statement, context=context)
    return table if table.cells else None


def table_of(hit: Hit) -> TableCells | None:
    """A passage's table cells: kept at ingest in its metadata, else read from its text."""
    stored = hit.metadata.get("table") if hit.metadata else None
    if isinstance(stored, dict) and stored.get("cells"):
        return TableCells.from_json(stored)
    statement = hit.heading_path[-1] if hit.heading_path else ""
    return parse_table_text(hit.text, statement)
