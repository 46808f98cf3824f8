"""OCR inside PDFs: pages without a text layer, and the text in figures (charts, scanned inserts)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from core.types import Block
from ingest.loaders.base import LoadOptions
from ingest.loaders.ocr_layout import figure_text, ocr_blocks
from ingest.loaders.pdfium_lock import PDFIUM_LOCK
from ingest.ocr import OcrEngine, OcrLine, read_page

if TYPE_CHECKING:
    from PIL.Image import Image

_FIGURE_MIN_SHARE = 0.04  # images smaller than this share of the page (logos, icons) are skipped
_FIGURE_MIN_SIDE = 72.0  # ... as are images narrower or lower than an inch
_FIGURES_PER_PAGE = 4
_NON_WORD = re.compile(r"\W+")


def _render(
    pdf: Any, index: int, scale: float, crop: tuple[float, float, float, float] | None = None
) -> Image:
    with PDFIUM_LOCK:
        page = pdf[index]
        try:
            bitmap = page.render(scale=scale, crop=crop or (0, 0, 0, 0), grayscale=True)
            return bitmap.to_pil()
        finally:
            page.close()


@contextmanager
def _opened(data: bytes) -> Iterator[Any]:
    """The PDF open for rendering; opened and closed under the pdfium lock, which each render
    takes again, so OCR itself runs without holding it."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(data)
    try:
        yield pdf
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def ocr_pages(data: bytes, pages: list[int], options: LoadOptions) -> dict[int, list[Block]]:
    """Blocks recognised on each of ``pages`` (1-based), rendered at ``options.ocr_dpi``."""
    engine = options.ocr
    if engine is None or not pages:
        return {}
    out: dict[int, list[Block]] = {}
    with _opened(data) as pdf:
        for done, page in enumerate(pages):
            options.step("ocr", done, len(pages))
            image = _render(pdf, page - 1, options.ocr_dpi / 72)
            out[page] = ocr_blocks(read_page(engine, image), image.height, page)
    options.step("ocr", len(pages), len(pages))
    return out


Box = tuple[float, float, float, float]  # left, bottom, right, top in PDF units


def _figures(pdf: Any, index: int) -> tuple[tuple[float, float], list[tuple[Box, str]]]:
    """Page size, and the box of each figure-sized image with the text-layer text drawn over it."""
    import pypdfium2.raw as pdfium_c

    with PDFIUM_LOCK:
        page = pdf[index]
        textpage = page.get_textpage()
        try:
            width, height = page.get_size()
            found: list[tuple[Box, str]] = []
            for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
                left, bottom, right, top = obj.get_bounds()
                box = (max(left, 0.0), max(bottom, 0.0), min(right, width), min(top, height))
                w, h = box[2] - box[0], box[3] - box[1]
                if min(w, h) >= _FIGURE_MIN_SIDE and w * h >= _FIGURE_MIN_SHARE * width * height:
                    found.append((box, textpage.get_text_bounded(*box)))
        finally:
            textpage.close()
            page.close()
    found.sort(key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]), reverse=True)
    return (width, height), found[:_FIGURES_PER_PAGE]


def _key(text: str) -> str:
    return _NON_WORD.sub("", text.casefold())


def _new_text(lines: list[OcrLine], drawn_over: str) -> list[OcrLine]:
    """Recognised lines the text layer does not already hold at that spot (captions over images)."""
    known = _key(drawn_over)
    return [line for line in lines if len(_key(line.text)) >= 2 and _key(line.text) not in known]


def _figure(
    engine: OcrEngine, pdf: Any, index: int, figure: tuple[Box, str], size: tuple[float, float], dpi: int
) -> list[Block]:
    (left, bottom, right, top), drawn_over = figure
    width, height = size
    image = _render(pdf, index, dpi / 72, (left, bottom, width - right, height - top))
    return figure_text(_new_text(read_page(engine, image), drawn_over), image.height, index + 1)


def figure_blocks(data: bytes, pages: list[int], options: LoadOptions) -> dict[int, list[Block]]:
    """Text recognised in the figures (images) of ``pages`` (1-based), by page."""
    engine = options.ocr
    if engine is None or not pages:
        return {}
    out: dict[int, list[Block]] = {}
    with _opened(data) as pdf:
        found = {page: _figures(pdf, page - 1) for page in pages}
        work = [(page, figure) for page, (_, figures) in found.items() for figure in figures]
        for done, (page, figure) in enumerate(work):
            options.step("figures", done, len(work))
            blocks = _figure(engine, pdf, page - 1, figure, found[page][0], options.ocr_dpi)
            out.setdefault(page, []).extend(blocks)
    if work:
        options.step("figures", len(work), len(work))
    return {page: blocks for page, blocks in out.items() if blocks}
