"""Table rows as text that carries its headers, for chunks: ``Revenue — 2019: 1,234; 2018: 1,100``.

A row of figures means little without its column headers ("2019", "Domestic September 30, 2019"),
and a retriever only sees the chunk. So each body row is written with the header of every value;
header rows that label the whole table ("Years Ended September 30,", "(in millions)") become one
caption line. Works on any table block: headers are the rows at the top without figures (years
excepted), up to three, spanning labels filled to the right over empty cells.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_HEADER_ROWS = 3
LABEL_JOINER = " — "
VALUE_JOINER = "; "
_FIGURE = re.compile(r"^[\s$€£¥(+\-−–]*\d[\d,.\s]*%?\s*\)?$")
_YEAR = re.compile(r"^\s*(?:FY\s?'?)?(?:19|20)\d{2}\s*$|^\s*FY\s?'?\d{2}\s*$", re.I)


@dataclass(frozen=True)
class TableText:
    """``caption``: what labels the whole table; ``header_rows``: how many top rows are headers;
    ``rows``: one line per body row (``rows[i]`` renders table row ``header_rows + i``)."""

    caption: str
    header_rows: int
    rows: list[str]


def _no_figures(row: Sequence[str]) -> bool:
    cells = [c.strip() for c in row if c.strip()]
    return bool(cells) and not any(_FIGURE.match(c) and not _YEAR.match(c) for c in cells)


def header_count(rows: Sequence[Sequence[str]], header: bool) -> int:
    """How many rows at the top are headers. The first is one when the loader said so, or when it
    holds no figures and either leaves the corner cell empty or names years; the rows after it
    (at most three in all) when they leave the corner empty and hold no figures ("| 2019 | 2018")."""
    if len(rows) < 2:
        return 0
    first = rows[0]
    years = any(_YEAR.match(c) for c in first[1:] if c.strip())
    if not (header or (_no_figures(first) and (not first[0].strip() or years))):
        return 0
    count = 1
    while count < min(MAX_HEADER_ROWS, len(rows) - 1):
        row = rows[count]
        if row[0].strip() or not _no_figures(row):
            break
        count += 1
    return count


def table_text(rows: Sequence[Sequence[str]], header: bool = False) -> TableText:
    """The rendering of a table given row by row (first column = row labels)."""
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
    lines = [_render(row, columns) for row in grid[count:]]
    return TableText(" ".join(caption), count, lines)


def _render(row: list[str], columns: list[str]) -> str:
    values = [(columns[i], row[i]) for i in range(1, len(row)) if row[i]]
    if not any(columns):
        return " | ".join(c for c in row if c)
    if not values:
        return row[0] if row else ""
    body = VALUE_JOINER.join(f"{head}: {value}" if head else value for head, value in values)
    return f"{row[0]}{LABEL_JOINER}{body}" if row[0] else body
