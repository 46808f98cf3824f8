"""Tables of digital PDFs with their column headers, from word positions (pdfium character boxes).

Financial statements and benefit tables are usually borderless: figures stand in right-aligned
columns under header lines ("Three Months Ended" over "July 1, 2023"). A table is a run of lines
holding several figures; its columns are the figures' right edges; the lines just above it whose
words sit over those columns are its header, joined per column top to bottom. The rows keep their
label, every column keeps its header, and the table replaces the text-layer lines it covers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from statistics import median
from typing import Any

from core.types import Block
from ingest.loaders.base import is_number, table_block
from ingest.loaders.pdf_layout import Line, page_blocks
from ingest.loaders.pdfium_lock import PDFIUM_LOCK

_CURRENCY = {"$", "€", "£", "¥", "US$"}
_DASHES = {"-", "—", "–", "$—", "$-"}
_YEAR = re.compile(r"^(?:FY\s?)?(?:19|20)\d\d$")
_MAX_HEADER_LINES = 6
_MAX_LABEL_ROWS = 2  # section labels ("Net sales:") just above the first row belong to the table


@dataclass
class _Phrase:
    """Words of one line close enough to be one cell."""

    text: str
    x0: float
    x1: float

    @property
    def figure(self) -> bool:
        return is_number(self.text.replace(" ", "")) or self.text in _DASHES


@dataclass
class _Row:
    phrases: list[_Phrase]
    top: float
    bottom: float

    @property
    def figures(self) -> list[_Phrase]:
        return [p for p in self.phrases if p.figure]


@dataclass(frozen=True)
class TableRegion:
    """A table found on a page and the box it covers (PDF units, y up, like text-layer lines)."""

    block: Block
    top: float
    bottom: float
    left: float
    right: float

    def covers(self, line: Line) -> bool:
        if line.top is None or line.bottom is None:
            return False
        middle = (line.top + line.bottom) / 2
        inside = self.bottom - 1 <= middle <= self.top + 1
        if line.left is None or line.right is None:
            return inside
        return inside and line.right >= self.left - 1 and line.left <= self.right + 1


def _rows(words: list[dict[str, Any]]) -> list[_Row]:
    """Words grouped into lines (by vertical position) and each line into phrases."""
    lines: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda w: (w["top"], w["x0"])):
        if lines and abs(word["top"] - lines[-1][0]["top"]) <= 0.5 * (word["bottom"] - word["top"]):
            lines[-1].append(word)
        else:
            lines.append([word])
    rows = []
    for line in lines:
        line.sort(key=lambda w: w["x0"])
        height = median(w["bottom"] - w["top"] for w in line)
        phrases: list[_Phrase] = []
        for word in line:
            last = phrases[-1] if phrases else None
            if last is not None and word["x0"] - last.x1 <= 0.5 * height and not last.figure:
                last.text, last.x1 = f"{last.text} {word['text']}", word["x1"]
            elif last is not None and last.text in _CURRENCY:
                last.text, last.x1 = f"{last.text}{word['text']}", word["x1"]
            else:
                phrases.append(_Phrase(word["text"], word["x0"], word["x1"]))
        rows.append(_Row(phrases, min(w["top"] for w in line), max(w["bottom"] for w in line)))
    return rows


Columns = list[tuple[float, float]]
_TOL = 2.0  # points (or pixels for scans) of slack when comparing edges


def _value_left(rows: list[_Row]) -> float:
    """Where the value columns start: the left edge of the leftmost figure."""
    return min(p.x0 for row in rows for p in row.figures)


def _columns(body: list[_Row], value_left: float) -> Columns:
    """x-ranges of the value columns: overlapping spans of the cells right of the labels, merged;
    a column needs cells on two rows (or a quarter of them)."""
    spans = sorted((p.x0, p.x1) for row in body for p in row.phrases if p.x0 >= value_left - _TOL)
    merged: list[list[float]] = []
    counts: list[int] = []
    for x0, x1 in spans:
        if merged and x0 <= merged[-1][1] + _TOL:
            merged[-1][1] = max(merged[-1][1], x1)
            counts[-1] += 1
        else:
            merged.append([x0, x1])
            counts.append(1)
    support = max(2, len(body) // 4)
    return [(m[0], m[1]) for m, n in zip(merged, counts, strict=True) if n >= support]


def _column_of(phrase: _Phrase, columns: Columns) -> int:
    middle = (phrase.x0 + phrase.x1) / 2
    return min(range(len(columns)), key=lambda i: abs(middle - (columns[i][0] + columns[i][1]) / 2))


def _spanned(phrase: _Phrase, columns: Columns) -> list[int]:
    """Columns a header phrase stands over: those it overlaps, else the nearest one."""
    over = [i for i, (x0, x1) in enumerate(columns) if phrase.x0 <= x1 and phrase.x1 >= x0]
    return over or [_column_of(phrase, columns)]


def _is_row(row: _Row) -> bool:
    return len(row.figures) >= 2


def _years_only(row: _Row, value_left: float) -> bool:
    return all(_YEAR.match(p.text) and p.x0 >= value_left - _TOL for p in row.phrases)


def _runs(rows: list[_Row]) -> list[tuple[int, int]]:
    """[start, end) index ranges of table bodies: lines with figures, with short label lines and
    wrapped cell lines (nothing under the labels) between them."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(rows):
        if not _is_row(rows[i]):
            i += 1
            continue
        start = end = i
        left = _value_left(rows[i : i + 1])
        j = i + 1
        while j < len(rows):
            row = rows[j]
            if row.top - rows[j - 1].bottom > 2.5 * (row.bottom - row.top):
                break
            if _is_row(row):
                end, left = j, min(left, _value_left([row]))
            elif min(p.x0 for p in row.phrases) >= left - _TOL:
                end = j  # a cell's second line
            elif len(row.phrases) > 1 or j - end > _MAX_LABEL_ROWS:
                break
            j += 1
        if end > start:
            runs.append((start, end + 1))
        i = end + 1
    return runs


def _cells(row: _Row, value_left: float, columns: Columns) -> list[str]:
    line = [""] * (len(columns) + 1)
    for phrase in row.phrases:
        at = 0 if phrase.x0 < value_left - _TOL else _column_of(phrase, columns) + 1
        line[at] = f"{line[at]} {phrase.text}".strip()
    return line


def _header(rows: list[_Row], top: int, floor: int, value_left: float, label_right: float) -> list[_Row]:
    """The header lines above rows[top]: each stands over the value columns, close to the next."""
    header: list[_Row] = []
    k = top
    while k > floor and len(header) < _MAX_HEADER_LINES:
        row = rows[k - 1]
        in_labels = [p for p in row.phrases if p.x1 <= value_left]
        if (
            rows[k].top - row.bottom > 2.5 * (row.bottom - row.top)
            or not any(p.x1 > value_left for p in row.phrases)
            or any(p.x0 < label_right - _TOL and p.x1 > value_left for p in row.phrases)  # a title
            or len(in_labels) > 1
            or any(len(p.text.split()) > 6 for p in in_labels)
        ):
            break
        header.insert(0, row)
        k -= 1
    return header


def _table(
    rows: list[_Row], start: int, end: int, floor: int
) -> tuple[list[str], list[list[str]], int, Columns] | None:
    """Header cells, body cells, first row index and columns of the table whose figures are
    rows[start:end]; header lines are looked for above it, down to ``floor``."""
    value_left = _value_left(rows[start:end])
    columns = _columns(rows[start:end], value_left)
    if not columns:
        return None
    while start < end - 2 and _years_only(rows[start], value_left):
        start += 1  # a line of bare years above the figures is the last header line
    top = start
    while top > max(floor, start - _MAX_LABEL_ROWS):
        row = rows[top - 1]
        if len(row.phrases) == 1 and row.phrases[0].x1 < value_left and not row.figures:
            top -= 1  # a section label just above the first row ("Net sales:")
        else:
            break
    labels = [p.x1 for row in rows[top:end] for p in row.phrases if p.x0 < value_left - _TOL]
    header_rows = _header(rows, top, floor, value_left, max(labels, default=value_left))
    header = [""] * (len(columns) + 1)
    for row in header_rows:
        for phrase in row.phrases:
            targets = [0] if phrase.x1 <= value_left else [i + 1 for i in _spanned(phrase, columns)]
            for t in targets:
                header[t] = f"{header[t]} {phrase.text}".strip()
    cells: list[list[str]] = []
    for row in rows[top:end]:
        line = _cells(row, value_left, columns)
        if cells and not line[0] and not row.figures:  # a wrapped cell: join it to the row above
            cells[-1] = [f"{a} {b}".strip() for a, b in zip(cells[-1], line, strict=True)]
        else:
            cells.append(line)
    return header, cells, top - len(header_rows), columns


def _same_columns(a: Columns, b: Columns) -> bool:
    return len(a) == len(b) and all(abs(x[1] - y[1]) <= 6 for x, y in zip(a, b, strict=True))


def page_tables(words: list[dict[str, Any]], page_height: float, page: int) -> list[TableRegion]:
    """The tables on one page, given its words with boxes (y grows downwards from the page top)."""
    rows = _rows(words)
    regions: list[TableRegion] = []
    floor = 0
    previous: tuple[list[str], Columns] | None = None
    for start, end in _runs(rows):
        found = _table(rows, start, end, floor)
        floor = end
        if found is None:
            continue
        header, cells, first, columns = found
        if not any(header[1:]) and previous and _same_columns(previous[1], columns):
            header = previous[0]  # the table goes on under a sub-heading with the same columns
        if any(header[1:]):
            previous = (header, columns)
        has_header = any(header[1:])
        block = table_block([header, *cells] if has_header else cells, page=page, header=has_header or None)
        if block is None:
            continue
        covered = rows[first:end]
        phrases = [p for r in covered for p in r.phrases]
        regions.append(
            TableRegion(
                block,
                top=page_height - min(r.top for r in covered),
                bottom=page_height - max(r.bottom for r in covered),
                left=min(p.x0 for p in phrases),
                right=max(p.x1 for p in phrases),
            )
        )
    return regions


def _words(page: Any) -> list[dict[str, Any]] | None:
    """Words with their boxes (y down from the page top) from pdfium's characters; None when the
    text and the character boxes do not line up (the page keeps its text-layer rows)."""
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range()
        if len(text) != count:
            return None
        height = page.get_height()
        words: list[dict[str, Any]] = []
        word: dict[str, Any] | None = None
        for index, char in enumerate(text):
            if not char.strip():
                word = None  # pdfium puts a space (or line break) between words
                continue
            left, bottom, right, top = textpage.get_charbox(index, loose=True)
            size = top - bottom
            gap = left - word["x1"] if word is not None else 0.0
            same_line = word is not None and abs((height - top) - word["top"]) <= 0.5 * size
            if word is not None and same_line and -0.5 * size <= gap <= 0.6 * size:
                word["text"] += char
                word["x1"], word["bottom"] = max(word["x1"], right), max(word["bottom"], height - bottom)
            else:
                word = {"text": char, "x0": left, "x1": right, "top": height - top, "bottom": height - bottom}
                words.append(word)
        return words
    finally:
        textpage.close()


def find_tables(data: bytes, pages: list[int]) -> dict[int, list[TableRegion]]:
    """Tables on the given pages (1-based) of a PDF, from pdfium's character boxes."""
    if not pages:
        return {}
    import pypdfium2 as pdfium

    found: dict[int, tuple[list[dict[str, Any]], float]] = {}
    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(data)
        try:
            for number in pages:
                page = pdf[number - 1]
                try:
                    words = _words(page)
                    if words:
                        found[number] = (words, float(page.get_height()))
                finally:
                    page.close()
        finally:
            pdf.close()
    out = {number: page_tables(words, height, number) for number, (words, height) in found.items()}
    return {number: regions for number, regions in out.items() if regions}


def with_tables(lines: list[Line], page: int, regions: list[TableRegion]) -> list[Block]:
    """The page's blocks with each table region in place of the text-layer lines it covers."""
    blocks: list[Block] = []
    pending: list[Line] = []
    placed: set[int] = set()
    for line in lines:
        hit = next((i for i, r in enumerate(regions) if r.covers(line)), None)
        if hit is None:
            pending.append(line)
            continue
        if hit not in placed:
            blocks += page_blocks(pending, page)
            pending = []
            blocks.append(regions[hit].block)
            placed.add(hit)
    blocks += page_blocks(pending, page)
    blocks += [r.block for i, r in enumerate(regions) if i not in placed]
    return blocks
