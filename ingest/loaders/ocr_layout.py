"""Recognised text lines in reading order, as the blocks of a page (paragraphs and figure tables).

Reading order is a recursive XY-cut: the page is split into bands at horizontal white gaps, a band
into columns at vertical white gaps that run its whole height (only where both sides read like
prose, so the columns of a table stay together), and each leaf region is read row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from statistics import median

from core.types import Block
from ingest.loaders.pdf_layout import Line, page_blocks
from ingest.loaders.pdf_tables import page_tables, with_tables
from ingest.ocr import OcrLine, mean_confidence

_COLUMN_GAP = 1.2  # a gutter at least this many line heights wide may separate columns
_BAND_GAP = 0.8  # a white band this many line heights tall separates blocks stacked on the page
_PROSE_CHARS = 14  # columns of prose have lines at least this long on average (table cells are shorter)
FIGURE_LABEL = "Figure text: "
_FIGURE_MIN_CHARS = 20


def _gaps(items: list[OcrLine], min_gap: float) -> list[float]:
    """Heights at which a white band at least ``min_gap`` tall crosses the whole region."""
    cuts: list[float] = []
    spans = sorted((x.top, x.bottom) for x in items)
    reach = spans[0][1]
    for start, end in spans[1:]:
        if start - reach >= min_gap:
            cuts.append((reach + start) / 2)
        reach = max(reach, end)
    return cuts


def _split(items: list[OcrLine], cuts: list[float], key: Callable[[OcrLine], float]) -> list[list[OcrLine]]:
    parts: list[list[OcrLine]] = [[] for _ in range(len(cuts) + 1)]
    for item in items:
        parts[sum(1 for c in cuts if key(item) > c)].append(item)
    return [p for p in parts if p]


def _prose(part: list[OcrLine]) -> bool:
    return len(part) >= 2 and sum(len(x.text) for x in part) / len(part) >= _PROSE_CHARS


def _columns(items: list[OcrLine], unit: float) -> list[list[OcrLine]]:
    """Items split at wide vertical gutters, left to right, when every side reads like prose."""
    spans = sorted((x.left, x.right) for x in items)
    cuts: list[float] = []
    reach = spans[0][1]
    for start, end in spans[1:]:
        if start - reach >= _COLUMN_GAP * unit:
            cuts.append((reach + start) / 2)
        reach = max(reach, end)
    parts = _split(items, cuts, lambda x: (x.left + x.right) / 2)
    return parts if len(parts) > 1 and all(_prose(p) for p in parts) else [items]


def _rows(items: list[OcrLine]) -> list[list[OcrLine]]:
    """Visual rows of a region: boxes whose vertical middles fall inside the same row, left to right."""
    rows: list[list[OcrLine]] = []
    for item in sorted(items, key=lambda x: (x.top + x.bottom) / 2):
        middle = (item.top + item.bottom) / 2
        if rows and middle < max(x.bottom for x in rows[-1]) and middle > min(x.top for x in rows[-1]):
            rows[-1].append(item)
        else:
            rows.append([item])
    return [sorted(row, key=lambda x: x.left) for row in rows]


def reading_order(items: list[OcrLine], unit: float | None = None, depth: int = 0) -> list[list[OcrLine]]:
    """Rows of recognised lines in reading order (bands top to bottom, columns left to right)."""
    if not items:
        return []
    unit = unit or median(x.height for x in items)
    if depth > 12:
        return _rows(items)
    columns = _columns(items, unit)
    if len(columns) > 1:
        return [row for column in columns for row in reading_order(column, unit, depth + 1)]
    # Only gaps wider than line spacing cut bands: lines of side-by-side columns often align.
    cuts = _gaps(items, _BAND_GAP * unit)
    bands = _split(items, cuts, lambda x: (x.top + x.bottom) / 2)
    if len(bands) > 1:
        return [row for band in bands for row in reading_order(band, unit, depth + 1)]
    return _rows(items)


def ocr_lines(items: list[OcrLine], image_height: float) -> list[Line]:
    """Rows as page lines (y turned upwards like PDF space), with their OCR confidence."""
    lines: list[Line] = []
    for row in reading_order(items):
        top, bottom = min(x.top for x in row), max(x.bottom for x in row)
        lines.append(
            Line(
                " ".join(x.text for x in row),
                top=image_height - top,
                bottom=image_height - bottom,
                height=median(x.height for x in row),
                left=min(x.left for x in row),
                right=max(x.right for x in row),
                confidence=mean_confidence(row),
            )
        )
    return lines


def ocr_blocks(items: list[OcrLine], image_height: float, page: int) -> list[Block]:
    """Paragraph and table blocks of one recognised page, each with its OCR confidence.

    Tables are found as in digital PDFs (pdf_tables), each recognised box standing for a phrase."""
    lines = ocr_lines(items, image_height)
    words = [{"text": x.text, "x0": x.left, "x1": x.right, "top": x.top, "bottom": x.bottom} for x in items]
    regions = []
    for region in page_tables(words, image_height, page):
        inside = [x for x in items if region.covers(_as_line(x, image_height))]
        regions.append(replace(region, block=replace(region.block, ocr_confidence=_rounded(inside))))
    return with_tables(lines, page, regions) if regions else page_blocks(lines, page)


def _as_line(item: OcrLine, image_height: float) -> Line:
    return Line(
        item.text, image_height - item.top, image_height - item.bottom, item.height, item.left, item.right
    )


def _rounded(items: list[OcrLine]) -> float | None:
    return round(mean_confidence(items), 3) if items else None


def figure_text(items: list[OcrLine], image_height: float, page: int) -> list[Block]:
    """Blocks of the text recognised in a figure, the first marked as such (a chart's labels read
    out of context would look like stray words). A logo or a photo with a word on it gives none."""
    chars = sum(len(x.text) for x in items)
    if chars < _FIGURE_MIN_CHARS or (len(items) < 2 and chars < 2 * _FIGURE_MIN_CHARS):
        return []
    blocks = ocr_blocks(items, image_height, page)
    if blocks and blocks[0].kind == "paragraph":
        blocks[0] = replace(blocks[0], text=FIGURE_LABEL + blocks[0].text)
    return blocks
