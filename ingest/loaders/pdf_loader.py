"""PDF: pdfium text with line geometry (pypdf as fallback), paragraphs, numeric tables, outline."""

from __future__ import annotations

import functools
import io
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import CorruptFileError, EncryptedFileError, NeedsOCRError
from core.types import Block, Document
from ingest.loaders.base import HeadingStack, LoadOptions, file_document, table_block

log = logging.getLogger(__name__)

_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe
_PASSWORD_ERRORS = {4, 5}  # FPDF_ERR_PASSWORD, FPDF_ERR_SECURITY
_SOFT_HYPHEN = "\ufffe"  # pdfium's mark for a hyphen it removed at a line end
_CONTROL = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32), 0xFEFF]}
_NUM_TOKEN = re.compile(r"^[(\[]?[-+−–]?[$€£¥]?[-+−–]?\d[\d,.']*%?[)\]]?,?$")
_DASH_TOKEN = {"-", "–", "—"}
_CURRENCY = {"$", "€", "£", "¥"}
_DIGIT_RUN = re.compile(r"\d+")
_WORD = re.compile(r"\w[\w-]*")
_WORD_END = re.compile(r"(\w[\w-]*)-$")
_BULLET_START = re.compile(r"^(?:[•◦▪■●○‣⁃*-]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s")
_MAX_OUTLINE = 5000


@dataclass(frozen=True)
class _Line:
    """One text line of a page; ``top``/``bottom`` (PDF units, y up) are None without geometry."""

    text: str
    top: float | None = None
    bottom: float | None = None
    height: float | None = None


@dataclass
class _Parsed:
    """What the PDF library gave us: lines per page, metadata title, outline entries."""

    pages: list[list[_Line]]
    title: str | None
    outline: list[tuple[int, str, int]]  # (level, title, 0-based page index)


def _split_lines(text: str) -> list[tuple[str, int]]:
    """Lines of ``text`` with their start offsets (pdfium ends lines with CR LF)."""
    out: list[tuple[str, int]] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        out.append((raw.rstrip("\r\n"), pos))
        pos += len(raw)
    return out


def _pdfium_page(page: Any) -> list[_Line]:
    """Lines of one pdfium page, each with the box of its first and last character."""
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        geometry = len(text) == textpage.count_chars()  # offsets are char indices
        lines: list[_Line] = []
        for body, start in _split_lines(text):
            stripped = body.strip().translate(_CONTROL)
            if not stripped:
                lines.append(_Line(""))
                continue
            if not geometry:
                lines.append(_Line(stripped))
                continue
            first = start + len(body) - len(body.lstrip())
            last = start + len(body.rstrip()) - 1
            _, bottom0, _, top = textpage.get_charbox(first, loose=True)
            _, bottom, _, _ = textpage.get_charbox(last, loose=True)
            lines.append(_Line(stripped, top, bottom, top - bottom0))
        return lines
    finally:
        textpage.close()


def _outline(pdf: Any, pdfium_c: Any, page_count: int) -> list[tuple[int, str, int]]:
    """Bookmarks that point at a page: (level, title, page index)."""
    entries: list[tuple[int, str, int]] = []
    for bookmark in pdf.get_toc(max_depth=6):
        if len(entries) >= _MAX_OUTLINE:
            break
        dest = bookmark.get_dest()
        index = dest.get_index() if dest is not None else None
        if index is None:
            action = pdfium_c.FPDFBookmark_GetAction(bookmark)
            raw_dest = pdfium_c.FPDFAction_GetDest(pdf, action) if action else None
            index = pdfium_c.FPDFDest_GetDestPageIndex(pdf, raw_dest) if raw_dest else None
        title = " ".join((bookmark.get_title() or "").split())
        if title and index is not None and 0 <= index < page_count:
            entries.append((bookmark.level + 1, title, index))
    return entries


def _parse_pdfium(data: bytes, source: str) -> _Parsed:
    """Text lines via pdfium; an encrypted file it cannot open raises EncryptedFileError."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if getattr(exc, "err_code", None) in _PASSWORD_ERRORS:
                raise EncryptedFileError(
                    source, "encrypted PDF, needs a password; remove the password and re-upload"
                ) from exc
            raise
        try:
            pages = []
            for index in range(len(pdf)):
                page = pdf[index]
                try:
                    pages.append(_pdfium_page(page))
                finally:
                    page.close()
            title = pdf.get_metadata_dict().get("Title")
            try:
                outline = _outline(pdf, pdfium_c, len(pages))
            except Exception:  # a broken outline is no reason to lose the text
                log.warning("%s: unreadable PDF outline ignored", source, exc_info=True)
                outline = []
        finally:
            pdf.close()
    return _Parsed(pages, title, outline)


def _parse_pypdf(data: bytes, source: str) -> _Parsed:
    """Text lines via pypdf (no geometry); tries the empty password on encrypted files."""
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise EncryptedFileError(source, "encrypted PDF, needs a password; remove the password and re-upload")
    pages = [
        [_Line(line.strip().translate(_CONTROL)) for line in (page.extract_text() or "").splitlines()]
        for page in reader.pages
    ]
    title = reader.metadata.title if reader.metadata else None
    return _Parsed(pages, title, [])


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


def _breaks(lines: list[_Line], wide: int) -> list[bool]:
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


def _table(rows: list[list[str]], page: int) -> list[Block]:
    """A table block; a first row of bare figures (years) is right-aligned over the value columns."""
    width = max(len(r) for r in rows)
    first = rows[0]
    if len(first) < width and all(_NUM_TOKEN.match(c) for c in first):
        rows = [[""] * (width - len(first)) + first, *rows[1:]]
    block = table_block(rows, page=page)
    return [block] if block else []


def _paragraph(text: str | None, page: int) -> list[Block]:
    return [Block(kind="paragraph", text=text.replace(_SOFT_HYPHEN, ""), page=page)] if text else []


def page_blocks(lines: list[_Line], page: int) -> list[Block]:
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
    for i, (line, new_para) in enumerate(zip(lines, _breaks(lines, wide), strict=True)):
        if in_table[i] or (table and not line.text):
            blocks += _paragraph(para, page)
            para = None
            if line.text:
                table.append(rows[i] or [])
            continue
        if table:
            blocks += _table(table, page)
            table = []
        if not line.text:
            continue
        if para is None or new_para:
            blocks += _paragraph(para, page)
            para = line.text
        else:
            para = _join(para, line.text, len(lines[i - 1].text) < 0.6 * wide, vocabulary)
    blocks += _table(table, page) if table else _paragraph(para, page)
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


class PdfLoader:
    """``.pdf`` files: one document, page numbers (1-based) on every block."""

    format = "pdf"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def _parse(self, data: bytes, source: str) -> _Parsed:
        """pdfium first; pypdf when pdfium cannot read the file."""
        try:
            return _parse_pdfium(data, source)
        except EncryptedFileError:
            raise
        except Exception as first:
            log.info("%s: pdfium failed (%s); trying pypdf", source, first)
            try:
                return _parse_pypdf(data, source)
            except EncryptedFileError:
                raise
            except Exception as second:
                raise CorruptFileError(
                    source, f"damaged PDF that no parser could read (pdfium: {first}; pypdf: {second})"
                ) from second

    def load(self, path: Path) -> list[Document]:
        """Extract ``path`` page by page; a PDF without any text raises NeedsOCRError."""
        data = path.read_bytes()
        source = self.options.source_for(path)
        parsed = self._parse(data, source)
        by_page: dict[int, list[tuple[int, str]]] = {}
        for level, title, index in parsed.outline:
            by_page.setdefault(index, []).append((level, title))
        stack = HeadingStack()
        blocks: list[Block] = []
        empty_pages: list[int] = []
        for index, lines in enumerate(parsed.pages):
            page = page_blocks(lines, index + 1)
            if not any(ch.isalnum() for b in page for ch in b.text):
                empty_pages.append(index + 1)
            blocks.extend(with_outline(page, by_page.get(index, []), index + 1, stack))
        if len(empty_pages) == len(parsed.pages):
            raise NeedsOCRError(source, "PDF has no text layer (scanned image); needs OCR")
        metadata = {"pages_without_text": empty_pages} if empty_pages else {}
        return [
            file_document(
                path,
                self.options,
                data=data,
                fmt=self.format,
                blocks=blocks,
                title=parsed.title,
                page_count=len(parsed.pages),
                metadata=metadata,
            )
        ]
