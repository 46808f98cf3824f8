"""OCR inside PDFs: pages without a text layer, and the text in figures (charts, scanned inserts)."""

from __future__ import annotations

import re
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


def _open(data: bytes) -> Any:
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        return pdfium.PdfDocument(data)


def _close(pdf: Any) -> None:
    with PDFIUM_LOCK:
        pdf.close()


def ocr_pages(data: bytes, pages: list[int], options: LoadOptions) -> dict[int, list[Block]]:
    """Blocks recognised on each of ``pages`` (1-based), rendered at ``options.ocr_dpi``."""
    engine = options.ocr
    if engine is None or not pages:
        return {}
    out: dict[int, list[Block]] = {}
    pdf = _open(data)
    try:
        for done, page in enumerate(pages):
            options.step("ocr", done, len(pages))
            image = _render(pdf, page - 1, options.ocr_dpi / 72)
            lines = read_page(engine, image)
            out[page] = ocr_blocks(lines, image.height, page)
        options.step("ocr", len(pages), len(pages))
    finally:
        _close(pdf)
    return out


def _figures(pdf: Any, index: int) -> tuple[tuple[float, float], list[tuple[float, float, float, float]]]:
    """Page size and the boxes (left, bottom, right, top) of its figure-sized images."""
    import pypdfium2.raw as pdfium_c

    with PDFIUM_LOCK:
        page = pdf[index]
        try:
            width, height = page.get_size()
            boxes = []
            for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
                left, bottom, right, top = obj.get_bounds()
                left, bottom = max(left, 0.0), max(bottom, 0.0)
                right, top = min(right, width), min(top, height)
                w, h = right - left, top - bottom
                if (
                    w >= _FIGURE_MIN_SIDE
                    and h >= _FIGURE_MIN_SIDE
                    and w * h >= _FIGURE_MIN_SHARE * width * height
                ):
                    boxes.append((left, bottom, right, top))
        finally:
            page.close()
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return (width, height), boxes[:_FIGURES_PER_PAGE]


def _key(text: str) -> str:
    return _NON_WORD.sub("", text.casefold())


def _new_text(lines: list[OcrLine], page_text: str) -> list[OcrLine]:
    """Recognised lines that the page's text layer does not already hold (captions drawn over images)."""
    known = _key(page_text)
    return [line for line in lines if len(_key(line.text)) >= 2 and _key(line.text) not in known]


def _figure(
    engine: OcrEngine,
    pdf: Any,
    index: int,
    box: tuple[float, ...],
    size: tuple[float, float],
    page_text: str,
    options: LoadOptions,
) -> list[Block]:
    left, bottom, right, top = box
    width, height = size
    image = _render(pdf, index, options.ocr_dpi / 72, (left, bottom, width - right, height - top))
    lines = _new_text(read_page(engine, image), page_text)
    if sum(len(line.text) for line in lines) < 3:
        return []
    return figure_text(lines, image.height, index + 1)


def figure_blocks(data: bytes, page_texts: dict[int, str], options: LoadOptions) -> dict[int, list[Block]]:
    """Text recognised in the figures (images) of the pages in ``page_texts`` (1-based -> page text)."""
    engine = options.ocr
    if engine is None or not page_texts:
        return {}
    out: dict[int, list[Block]] = {}
    pdf = _open(data)
    try:
        found = {page: _figures(pdf, page - 1) for page in page_texts}
        work = [(page, box) for page, (_, boxes) in found.items() for box in boxes]
        for done, (page, box) in enumerate(work):
            options.step("figures", done, len(work))
            size = found[page][0]
            out.setdefault(page, []).extend(
                _figure(engine, pdf, page - 1, box, size, page_texts[page], options)
            )
        if work:
            options.step("figures", len(work), len(work))
    finally:
        _close(pdf)
    return {page: blocks for page, blocks in out.items() if blocks}
