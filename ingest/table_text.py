"""Table rows as text that carries its headers, for chunks: ``Revenue — 2019: 1,234; 2018: 1,100``.

A row of figures means little without its column headers ("2019", "Domestic September 30, 2019"),
and a retriever only sees the chunk. So each body row is written with the header of every value;
header rows that label the whole table ("Years Ended September 30,", "(in millions)") become one
caption line. The table's layout (header rows, caption, column headers) is ``core.tables``'s, which
also gives the cells a table chunk keeps in its metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.tables import LABEL_JOINER, VALUE_JOINER, TableLayout, header_count, layout

__all__ = ["TableText", "header_count", "table_text"]


@dataclass(frozen=True)
class TableText:
    """``caption``: what labels the whole table; ``header_rows``: how many top rows are headers;
    ``rows``: one line per body row (``rows[i]`` renders table row ``header_rows + i``);
    ``layout``: the grid and column headers the cells come from."""

    caption: str
    header_rows: int
    rows: list[str]
    layout: TableLayout


def table_text(rows: Sequence[Sequence[str]], header: bool = False) -> TableText:
    """The rendering of a table given row by row (first column = row labels)."""
    grid = layout(rows, header)
    lines = [_render(row, grid.columns) for row in grid.grid[grid.header_rows :]]
    return TableText(grid.caption, grid.header_rows, lines, grid)


def _render(row: list[str], columns: list[str]) -> str:
    values = [(columns[i], row[i]) for i in range(1, len(row)) if row[i]]
    if not any(columns):
        return " | ".join(c for c in row if c)
    if not values:
        return row[0] if row else ""
    body = VALUE_JOINER.join(f"{head}: {value}" if head else value for head, value in values)
    return f"{row[0]}{LABEL_JOINER}{body}" if row[0] else body
