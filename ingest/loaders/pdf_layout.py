"""A PDF page's text lines as blocks: paragraphs (de-hyphenated), numeric tables, outline headings.

Used for the text layer (pdfium lines with geometry) and for OCR'd pages (recognised rows)."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.types import Block
from ingest.loaders.base import HeadingStack, table_block

_SOFT_HYPHEN = "\ufffe"  # pdfium's mark for a hyphen it removed at a line end
_NUM_TOKEN = re.compile(r"^[(\[]?[-+−–]?[$€£¥]?[-+−–]?\d[\d,.']*%?[)\]]?,?$")
_DASH_TOKEN = {"-", "–", "—"}
_CURRENCY = {"$", "€", "£", "¥"}
_DIGIT_RUN = re.compile(r"\d+")
_WORD = re.compile(r"\w[\w-]*")
_WORD_END = re.compile(r"(\w[\w-]*)-$")
_BULLET_START = re.compile(r"^(?:[•◦▪■●○‣⁃*-]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s")


@dataclass(frozen=True)
class Line:
    """One text line of a page; ``top``/``bottom`` (PDF units, y up) are None without geometry.

    ``left``/``right`` bound it horizontally; ``confidence`` is set for lines recognised by OCR;
    ``style`` is set for text-layer lines whose font pdfium reports."""

    text: str
    top: float | None = None
    bottom: float | None = None
    height: float | None = None
    left: float | None = None
    right: float | None = None
    confidence: float | None = None
    style: tuple[int, float] | None = None  # font weight and size of its first character
    heading: int = 0  # the heading level ``mark_headings`` found (0: body text)


def _row_cells(text: str) -> list[str] | None:
    """Cells of a line that reads like a table row (mostly figures), else None."""
    if len(_DIGIT_RUN.findall(text)) < 2:
        return None
    cells: list[str] = []
    label: list[str] = []
    figures = 0
    currency = ""
    for token in text.split():
        if token in _CURRENCY:
            currency = token
        elif _NUM_TOKEN.match(token) or token in _DASH_TOKEN:
            if label:
                cells.append(" ".join(label))
                label = []
            cells.append(currency + token.rstrip(","))
            figures += token not in _DASH_TOKEN
            currency = ""
        else:
            label.extend([currency, token] if currency else [token])
            currency = ""
    if label:
        cells.append(" ".join(label))
    return cells if figures >= 2 and figures * 2 >= len(cells) else None


def _join(prev: str, line: str, short: bool, vocabulary: Callable[[], set[str]]) -> str:
    """Glue a line to the paragraph so far: de-hyphenated, newline after short lines or before bullets."""
    if prev.endswith(_SOFT_HYPHEN):
        return prev[:-1] + line
    if len(prev) > 1 and prev.endswith("-") and prev[-2].isalpha() and line[:1].islower():
        head = _WORD_END.search(prev)
        tail = _WORD.match(line)
        if head and tail:
            joined = f"{head.group(1)}{tail.group()}".casefold()
            hyphenated = f"{head.group(1)}-{tail.group()}".casefold()
            words = vocabulary()
            if joined in words and hyphenated not in words:
                return prev[:-1] + line  # a word broken at the line end
        return prev + line  # a compound: the page spells it with the hyphen elsewhere, or we can't tell
    if short or _BULLET_START.match(line):
        return f"{prev}\n{line}"
    return f"{prev} {line}"


def _breaks(lines: list[Line], wide: int) -> list[bool]:
    """For each line, whether a new paragraph starts there (vertical gaps, size changes, columns)."""
    gaps = [
        prev.bottom - cur.top
        for prev, cur in zip(lines, lines[1:], strict=False)
        if prev.bottom is not None and cur.top is not None and cur.height
        if -0.5 * cur.height < prev.bottom - cur.top < 2 * cur.height
    ]
    usual = sorted(gaps)[len(gaps) // 2] if len(gaps) >= 3 else None
    flags = [True]
    for prev, cur in zip(lines, lines[1:], strict=False):
        if not prev.text or not cur.text:
            flags.append(True)
            continue
        if prev.bottom is None or cur.top is None or not cur.height or not prev.height:
            # no geometry (pypdf): a short line that ends a sentence ends its paragraph
            flags.append(prev.text.endswith((".", "!", "?", ":")) and len(prev.text) < 0.8 * wide)
            continue
        gap = prev.bottom - cur.top
        height = min(prev.height, cur.height)
        base = usual if usual is not None else 0.25 * height
        size_change = abs(prev.height - cur.height) > 0.2 * max(prev.height, cur.height)
        flags.append(gap > base + 0.4 * height or gap < -2 * height or size_change)
    return flags


def _confidence(lines: list[Line]) -> float | None:
    """OCR confidence of a block's lines, weighted by their lengths (None for text-layer lines)."""
    scored = [(len(line.text), line.confidence) for line in lines if line.confidence is not None]
    total = sum(n for n, _ in scored)
    return round(sum(n * c for n, c in scored) / total, 3) if total else None


def _table(rows: list[list[str]], page: int, lines: list[Line]) -> list[Block]:
    """A table block; a first row of bare figures (years) is right-aligned over the value columns."""
    width = max(len(r) for r in rows)
    first = rows[0]
    if len(first) < width and all(_NUM_TOKEN.match(c) for c in first):
        rows = [[""] * (width - len(first)) + first, *rows[1:]]
    block = table_block(rows, page=page)
    return [replace(block, ocr_confidence=_confidence(lines))] if block else []


def _paragraph(text: str | None, page: int, lines: list[Line]) -> list[Block]:
    if not text:
        return []
    return [
        Block(
            kind="paragraph",
            text=text.replace(_SOFT_HYPHEN, ""),
            page=page,
            ocr_confidence=_confidence(lines),
        )
    ]


_MAX_HEADING_WORDS = 12
_MAX_HEADING_LINES = 3


def _body_style(pages: list[list[Line]]) -> tuple[int, float] | None:
    """The font (weight, size) most of a document's characters are set in."""
    weights: Counter[tuple[int, float]] = Counter()
    for lines in pages:
        for line in lines:
            if line.style is not None:
                weights[line.style] += len(line.text)
    return weights.most_common(1)[0][0] if weights else None


def _heading_text(text: str) -> bool:
    """Short, starts like a title, is no row of figures, bullet or sentence piece."""
    words = text.split()
    letters = [ch for ch in text if ch.isalpha()]
    return (
        0 < len(words) <= _MAX_HEADING_WORDS
        and len(letters) >= 2
        and (text[0].isupper() or text[0].isdigit() or not text[0].isalpha())
        and not text.endswith((",", ";", ":", "："))  # "Reconciling items included in …:" leads into rows
        and not _BULLET_START.match(text)
        and _row_cells(text) is None
    )


def mark_headings(pages: list[list[Line]]) -> list[list[Line]]:
    """Lines that head a section, for PDFs without bookmarks: set apart from the body font (another
    weight, or a larger size), short, title-like, at most three lines, followed by body text, and
    not repeated on three or more pages (a running header). A larger size than the body's is level 1,
    the body's size in another weight level 2. (A cover's title, "Apple Inc.", heads the whole
    document: every passage's context line then names the company its questions name.)"""
    body = _body_style(pages)
    if body is None:
        return pages
    weight, size = body

    def styled(line: Line) -> bool:
        if line.style is None or line.style == body or not line.text:
            return False
        w, s = line.style
        return s >= 1.15 * size or (s >= 0.95 * size and abs(w - weight) >= 100)

    found: list[tuple[int, int, int, int, str]] = []  # (page, first line, end, level, text)
    for n, lines in enumerate(pages):
        i = 0
        while i < len(lines):
            if not styled(lines[i]):
                i += 1
                continue
            j = i + 1  # a heading may run over a few lines of the same style
            while j < len(lines) and lines[j].text and lines[j].style == lines[i].style:
                j += 1
            after = next((line.style for line in lines[j:] if line.text), None)
            text = " ".join(line.text for line in lines[i:j])
            if j - i <= _MAX_HEADING_LINES and _heading_text(text) and after == body:
                style = lines[i].style
                big = style is not None and style[1] >= 1.15 * size
                found.append((n, i, j, 1 if big else 2, text))
            i = j
    pages_of: dict[str, set[int]] = {}
    for n, _, _, _, text in found:
        pages_of.setdefault(_key(text), set()).add(n)
    out = [list(lines) for lines in pages]
    for n, i, j, level, text in found:
        if len(pages_of[_key(text)]) < 3:
            for k in range(i, j):
                out[n][k] = replace(out[n][k], heading=level)
    return out


def with_headings(blocks: list[Block], stack: HeadingStack) -> list[Block]:
    """Blocks under the headings ``mark_headings`` found: each heading opens its section."""
    out: list[Block] = []
    for block in blocks:
        if block.kind == "heading":
            out.append(replace(stack.push(block.level, block.text), page=block.page))
        else:
            out.append(replace(block, heading_path=stack.path))
    return out


def page_blocks(lines: list[Line], page: int) -> list[Block]:
    """Paragraph and table blocks of one page, in reading order."""
    lengths = sorted(len(line.text) for line in lines if line.text)
    if not lengths:
        return []
    wide = lengths[int(len(lengths) * 0.9)]
    rows = [_row_cells(line.text) for line in lines]
    in_table = [
        cells is not None
        and ((i > 0 and rows[i - 1] is not None) or (i + 1 < len(rows) and rows[i + 1] is not None))
        for i, cells in enumerate(rows)
    ]

    @functools.cache
    def vocabulary() -> set[str]:
        return {w.casefold() for line in lines for w in _WORD.findall(line.text)}

    blocks: list[Block] = []
    para: str | None = None
    table: list[list[str]] = []
    held: list[Line] = []  # the lines of the open paragraph or table
    for i, (line, new_para) in enumerate(zip(lines, _breaks(lines, wide), strict=True)):
        if in_table[i] or (table and not line.text):
            if para is not None:
                blocks += _paragraph(para, page, held)
                para, held = None, []
            if line.text:
                table.append(rows[i] or [])
                held.append(line)
            continue
        if table:
            blocks += _table(table, page, held)
            table, held = [], []
        if not line.text:
            continue
        if line.heading:
            blocks += _paragraph(para, page, held)
            para, held = None, []
            last = blocks[-1] if blocks else None
            if last is not None and last.kind == "heading" and lines[i - 1].heading == line.heading:
                blocks[-1] = replace(last, text=f"{last.text} {line.text}")  # one heading, two lines
            else:
                blocks.append(Block("heading", line.text, page=page, level=line.heading))
            continue
        if para is None or new_para:
            blocks += _paragraph(para, page, held)
            para, held = line.text, [line]
        else:
            para = _join(para, line.text, len(lines[i - 1].text) < 0.6 * wide, vocabulary)
            held.append(line)
    blocks += _table(table, page, held) if table else _paragraph(para, page, held)
    return blocks


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def with_outline(
    blocks: list[Block], entries: list[tuple[int, str]], page: int, stack: HeadingStack
) -> list[Block]:
    """Page blocks under the bookmarks that point at this page, each placed where its title appears."""
    # A title not found on the page opens its section at the page top when it is the page's first
    # bookmark, else just before the next title found (or at the page end).
    if not entries and not stack.path:
        return blocks
    found: list[int | None] = []
    start = 0
    for n, (_, title) in enumerate(entries):
        key = _key(title)
        at = next((i for i in range(start, len(blocks)) if _key(blocks[i].text).startswith(key)), None)
        start = at if at is not None else start
        found.append(at if at is not None or n else 0)
    positions: list[int] = []
    following = len(blocks)
    for at in reversed(found):
        following = at if at is not None else following
        positions.append(following)
    positions.reverse()
    out: list[Block] = []
    pending = list(zip(positions, entries, strict=True))
    for i, block in enumerate(blocks):
        while pending and pending[0][0] == i:
            _, (level, title) = pending.pop(0)
            out.append(replace(stack.push(level, title), page=page))
        if not (out and out[-1].kind == "heading" and _key(out[-1].text) == _key(block.text)):
            out.append(replace(block, heading_path=stack.path))
    out.extend(replace(stack.push(level, title), page=page) for _, (level, title) in pending)
    return out
