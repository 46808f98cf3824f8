"""PPTX (python-pptx): each slide's title as a heading, its shapes in reading order, tables, chart
data as tables, speaker notes; pictures (charts pasted as images, scans) are OCR'd when OCR is on."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from core.types import Block, Document
from ingest.loaders.base import LoadOptions, clean_cell, file_document, table_block
from ingest.loaders.ocr_layout import figure_text
from ingest.loaders.sniff import check_zip
from ingest.ocr import read_page

log = logging.getLogger(__name__)

_ROW_BAND = 0.04  # shapes whose tops are this close (share of slide height) read left to right
_PICTURE_MIN_SHARE = 0.04  # pictures smaller than this share of the slide (logos, icons) are not OCR'd
NOTES = "Speaker notes"


def slide_heading(number: int, title: str) -> str:
    """How a slide is named in headings and citations: ``Slide 3: Quarterly results``."""
    return f"Slide {number}: {title}" if title else f"Slide {number}"


def _reading_order(shapes: Iterable[Any], band: float) -> list[Any]:
    """Shapes top to bottom; those starting within one band of each other left to right."""
    return sorted(shapes, key=lambda s: (int((s.top or 0) // band), s.left or 0, s.top or 0))


def _text(frame: Any) -> Block | None:
    """A text frame as a paragraph, or a list when it holds several (indented by bullet level)."""
    lines = [(p.level, clean_cell(p.text.replace("\v", " "))) for p in frame.paragraphs]
    lines = [(level, text) for level, text in lines if text]
    if not lines:
        return None
    if len(lines) == 1:
        return Block(kind="paragraph", text=lines[0][1])
    return Block(kind="list", text="\n".join(f"{'  ' * level}- {text}" for level, text in lines))


def _table(shape: Any) -> Block | None:
    table = shape.table
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    return table_block(rows, header=True if table.first_row else None)


def _chart(shape: Any) -> list[Block]:
    """A chart's title and its data (categories x series) as a table with a header row."""
    chart = shape.chart
    blocks: list[Block] = []
    title = clean_cell(chart.chart_title.text_frame.text) if chart.has_title else ""
    if title:
        blocks.append(Block(kind="paragraph", text=f"Chart: {title}"))
    try:
        plot = chart.plots[0]
        categories = [clean_cell(c) for c in plot.categories]
        series = [s for p in chart.plots for s in p.series]
        header = ["", *(clean_cell(s.name) for s in series)]
        rows = [[cat, *(_number(s.values[i]) for s in series)] for i, cat in enumerate(categories)]
    except (IndexError, KeyError, AttributeError, TypeError) as exc:  # charts without categories
        log.debug("chart data not readable: %s", exc)
        return blocks
    block = table_block([header, *rows], header=True)
    return [*blocks, block] if block else blocks


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class PptxLoader:
    """``.pptx`` files: one document; every block carries its slide number as its page."""

    format = "pptx"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        """Slides in order: heading, shapes in reading order, then speaker notes."""
        source = self.options.source_for(path)
        check_zip(path, source, self.options.max_expanded_bytes)
        data = path.read_bytes()
        deck = Presentation(io.BytesIO(data))
        width, height = deck.slide_width or 1, deck.slide_height or 1
        band = height * _ROW_BAND
        blocks: list[Block] = []
        first_title = ""
        slides = list(deck.slides)
        for number, slide in enumerate(slides, 1):
            self.options.step("slides", number - 1, len(slides))
            title_shape = slide.shapes.title
            title = clean_cell(title_shape.text_frame.text) if title_shape is not None else ""
            first_title = first_title or title
            heading = slide_heading(number, title)
            blocks.append(Block(kind="heading", text=heading, page=number, level=1))
            shapes = [s for s in slide.shapes if title_shape is None or s.shape_id != title_shape.shape_id]
            for block in self._shapes(shapes, band, width * height):
                blocks.append(replace(block, heading_path=(heading, *block.heading_path), page=number))
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                notes = _text(slide.notes_slide.notes_text_frame)
                if notes is not None:
                    blocks.append(replace(notes, heading_path=(heading, NOTES), page=number))
        self.options.step("slides", len(slides), len(slides))
        title = deck.core_properties.title or first_title
        return [
            file_document(
                path,
                self.options,
                data=data,
                fmt=self.format,
                blocks=blocks,
                title=title,
                page_count=len(slides),
            )
        ]

    def _shapes(self, shapes: Iterable[Any], band: float, slide_area: float) -> list[Block]:
        blocks: list[Block] = []
        for shape in _reading_order(shapes, band):
            if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
                blocks.extend(self._shapes(shape.shapes, band, slide_area))
            elif getattr(shape, "has_table", False):
                table = _table(shape)
                blocks.extend([table] if table else [])
            elif getattr(shape, "has_chart", False):
                blocks.extend(_chart(shape))
            elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
                text = _text(shape.text_frame)
                blocks.extend([text] if text else [])
            elif hasattr(shape, "image"):
                blocks.extend(self._picture(shape, slide_area))
        return blocks

    def _picture(self, shape: Any, slide_area: float) -> list[Block]:
        """Text recognised in a picture large enough to hold some (a chart pasted as an image)."""
        engine = self.options.ocr
        area = (shape.width or 0) * (shape.height or 0)
        if engine is None or area < _PICTURE_MIN_SHARE * slide_area:
            return []
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(shape.image.blob)) as image:
                image.load()
                return figure_text(read_page(engine, image), image.height, 1)
        except (UnidentifiedImageError, OSError, ValueError) as exc:  # EMF/WMF or damaged pictures
            log.info("picture %r not OCR'd: %s", getattr(shape, "name", ""), exc)
            return []
