"""PDF: pdfium text with line geometry (pypdf as fallback), outline, OCR for pages without text."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import CorruptFileError, EmptyFileError, EncryptedFileError, NeedsOCRError
from core.types import Block, Document
from ingest.loaders.base import OCR_OFF, HeadingStack, LoadOptions, file_document
from ingest.loaders.pdf_layout import Line, mark_headings, page_blocks, with_headings, with_outline
from ingest.loaders.pdf_ocr import figure_blocks, ocr_pages
from ingest.loaders.pdf_tables import find_tables, with_tables
from ingest.loaders.pdfium_lock import PDFIUM_LOCK

log = logging.getLogger(__name__)

_PASSWORD_ERRORS = {4, 5}  # FPDF_ERR_PASSWORD, FPDF_ERR_SECURITY
_CONTROL = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32), 0xFEFF]}
_MAX_OUTLINE = 5000


@dataclass
class _Parsed:
    """What the PDF library gave us: lines per page, metadata title, outline entries."""

    pages: list[list[Line]]
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


def _pdfium_page(page: Any) -> list[Line]:
    """Lines of one pdfium page, each with the box of its first and last character and the font
    weight and size of its first."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        geometry = len(text) == textpage.count_chars()  # offsets are char indices
        lines: list[Line] = []
        for body, start in _split_lines(text):
            stripped = body.strip().translate(_CONTROL)
            if not stripped:
                lines.append(Line(""))
                continue
            if not geometry:
                lines.append(Line(stripped))
                continue
            first = start + len(body) - len(body.lstrip())
            last = start + len(body.rstrip()) - 1
            left, bottom0, _, top = textpage.get_charbox(first, loose=True)
            _, bottom, right, _ = textpage.get_charbox(last, loose=True)
            weight = pdfium_c.FPDFText_GetFontWeight(textpage.raw, first)
            size = round(pdfium_c.FPDFText_GetFontSize(textpage.raw, first), 1)
            style = (weight, size) if weight > 0 and size > 0 else None
            lines.append(Line(stripped, top, bottom, top - bottom0, left, right, style=style))
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

    with PDFIUM_LOCK:
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
        [Line(line.strip().translate(_CONTROL)) for line in (page.extract_text() or "").splitlines()]
        for page in reader.pages
    ]
    title = reader.metadata.title if reader.metadata else None
    return _Parsed(pages, title, [])


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
        """Extract ``path`` page by page; pages without a text layer are OCR'd when OCR is on."""
        data = path.read_bytes()
        source = self.options.source_for(path)
        parsed = self._parse(data, source)
        if not parsed.outline:  # no bookmarks: sections from the fonts of their headings
            parsed = replace(parsed, pages=mark_headings(parsed.pages))
        pages = [page_blocks(lines, index + 1) for index, lines in enumerate(parsed.pages)]
        # Pages whose text-layer lines hold rows of figures get their tables rebuilt with headers
        # (needs line geometry: not after the pypdf fallback).
        table_pages = [
            n
            for n, blocks in enumerate(pages, 1)
            if any(b.kind == "table" for b in blocks) and any(x.top is not None for x in parsed.pages[n - 1])
        ]
        for n, regions in find_tables(data, table_pages).items():
            pages[n - 1] = with_tables(parsed.pages[n - 1], n, regions)
        texts = {n: " ".join(b.text for b in blocks) for n, blocks in enumerate(pages, 1)}
        empty = [n for n, text in texts.items() if not any(ch.isalnum() for ch in text)]
        recognised = ocr_pages(data, empty, self.options)
        figures = figure_blocks(data, [n for n in texts if n not in empty], self.options)
        unread = [n for n in empty if not recognised.get(n)]
        if len(unread) == len(pages):
            if self.options.ocr is None:
                raise NeedsOCRError(source, f"PDF has no text layer (scanned image); needs OCR. {OCR_OFF}")
            raise EmptyFileError(source, "PDF has no text layer and OCR found no text on its pages")
        by_page: dict[int, list[tuple[int, str]]] = {}
        for level, title, index in parsed.outline:
            by_page.setdefault(index, []).append((level, title))
        stack = HeadingStack()
        blocks: list[Block] = []
        for n, page in enumerate(pages, 1):
            page = recognised.get(n) or page
            found = page + figures.get(n, [])
            if parsed.outline:
                blocks.extend(with_outline(found, by_page.get(n - 1, []), n, stack))
            else:
                blocks.extend(with_headings(found, stack))
        metadata: dict[str, Any] = {"pages_without_text": unread} if unread else {}
        if recognised or figures:
            metadata["ocr"] = {
                "engine": getattr(self.options.ocr, "name", ""),
                "pages": sorted(recognised),
                "figure_pages": sorted(figures),
            }
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
