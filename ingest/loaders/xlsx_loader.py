"""XLSX (openpyxl, read-only, cached values): each sheet's tables found by empty rows/columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from core.types import Block, Document
from ingest.loaders.base import LoadOptions, clean_cell, file_document, is_number, table_block
from ingest.loaders.sniff import check_zip

Cells = dict[int, dict[int, str]]  # row -> column -> non-empty cell text
_TITLE_MAX_CHARS = 120


def cell_text(value: object) -> str:
    """A cell value as text: ``12`` not ``12.0``, dates without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return clean_cell(value)


@dataclass
class _Region:
    """A rectangle of the sheet, inclusive bounds."""

    rows: list[int]
    cols: list[int]


def _runs(indices: Iterable[int]) -> list[list[int]]:
    """Sorted indices grouped into runs of consecutive values."""
    runs: list[list[int]] = []
    for i in sorted(indices):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _numeric(cells: Cells, rows: list[int]) -> bool:
    return any(is_number(v) for r in rows for v in cells[r].values())


def _bands(cells: Cells) -> list[list[int]]:
    """Row bands split at empty rows; a label band one empty row above figures joins them."""
    merged: list[list[int]] = []
    for band in _runs(cells):
        if merged and band[0] - merged[-1][-1] == 2:
            upper = merged[-1]
            upper_cols = {c for r in upper for c in cells[r]}
            lower_cols = {c for r in band for c in cells[r]}
            overlap = len(upper_cols & lower_cols) * 2 >= len(upper_cols)
            if overlap and len(upper) <= 3 and not _numeric(cells, upper) and _numeric(cells, band):
                upper.extend(band)
                continue
        merged.append(band)
    return merged


def _regions(cells: Cells) -> list[_Region]:
    """Tables of a sheet: row bands, each cut at empty columns unless the sides share their rows."""
    regions: list[_Region] = []
    for band in _bands(cells):
        rows_of: dict[int, set[int]] = {}
        for r in band:
            for c in cells[r]:
                rows_of.setdefault(c, set()).add(r)
        groups: list[tuple[list[int], set[int]]] = []
        for run in _runs(rows_of):
            run_rows = set().union(*(rows_of[c] for c in run))
            if groups:
                prev_rows = groups[-1][1]
                if len(prev_rows & run_rows) * 5 >= 3 * len(prev_rows | run_rows):  # Jaccard >= 0.6
                    groups[-1][0].extend(run)
                    prev_rows |= run_rows
                    continue
            groups.append((run, run_rows))
        for cols, used in groups:
            regions.append(_Region(sorted(used), cols))
    return regions


def _grid(cells: Cells, region: _Region) -> list[list[str]]:
    lo, hi = min(region.cols), max(region.cols)
    return [[cells[r].get(c, "") for c in range(lo, hi + 1)] for r in region.rows]


def sheet_blocks(name: str, cells: Cells) -> list[Block]:
    """Blocks of one sheet: notes (one-column text) as paragraphs, every other region a table."""
    blocks: list[Block] = []
    pending_title: str | None = None
    count = 0
    for region in _regions(cells):
        grid = _grid(cells, region)
        if all(sum(1 for v in row if v) == 1 for row in grid):  # titles, notes, footnotes
            lines = [" ".join(v for v in row if v) for row in grid]
            blocks.append(Block(kind="paragraph", text="\n".join(lines), heading_path=(name,)))
            pending_title = lines[-1] if len(lines[-1]) <= _TITLE_MAX_CHARS else None
            continue
        count += 1
        title = f"Table {count}"
        first = [v for v in grid[0] if v]
        if len(first) == 1 and len(grid) > 1 and len(first[0]) <= _TITLE_MAX_CHARS:
            title, grid = first[0], grid[1:]
        elif pending_title:
            title = pending_title
        pending_title = None
        block = table_block(grid, (name, title))
        if block:
            blocks.append(block)
    return blocks


class XlsxLoader:
    """``.xlsx``/``.xlsm`` workbooks: one table block per detected table, empty sheets skipped."""

    format = "xlsx"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        """Read every sheet of ``path`` (formulas as their cached values)."""
        source = self.options.source_for(path)
        check_zip(path, source, self.options.max_expanded_bytes)
        data = path.read_bytes()
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            blocks: list[Block] = []
            for sheet in workbook.worksheets:
                cells: Cells = {}
                sheet.reset_dimensions()  # a wrong <dimension> would cut rows off or pad a million
                for r, row in enumerate(sheet.iter_rows(values_only=True)):
                    texts = {c: text for c, value in enumerate(row) if (text := cell_text(value))}
                    if texts:
                        cells[r] = texts
                blocks.extend(sheet_blocks(sheet.title, cells))
            title = workbook.properties.title
        finally:
            workbook.close()
        return [file_document(path, self.options, data=data, fmt=self.format, blocks=blocks, title=title)]
