"""Images (PNG, JPEG, TIFF incl. multi-page, BMP, WebP): text recognised by OCR, one page per frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import EmptyFileError, FileTooLargeError, NeedsOCRError
from core.types import Block, Document
from ingest.loaders.base import OCR_OFF, LoadOptions, file_document
from ingest.loaders.ocr_layout import ocr_blocks
from ingest.ocr import read_page

MAX_PIXELS = 120_000_000  # ~ an A0 scan at 300 dpi; bigger images are refused, not decoded
MAX_FRAMES = 2000


class ImageLoader:
    """An image file: each frame (TIFF page) is OCR'd into blocks carrying its page number."""

    format = "image"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        """Recognise the text of every frame; raises when OCR is off or finds no text."""
        from PIL import Image, ImageSequence

        source = self.options.source_for(path)
        engine = self.options.ocr
        if engine is None:
            raise NeedsOCRError(source, f"image file: its text can only be read by OCR. {OCR_OFF}")
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        data = path.read_bytes()
        blocks: list[Block] = []
        try:
            with Image.open(path) as image:
                frames = min(getattr(image, "n_frames", 1), MAX_FRAMES)
                for index, frame in enumerate(ImageSequence.Iterator(image)):
                    if index >= frames:
                        break
                    self.options.step("ocr", index, frames)
                    page = frame.copy()
                    blocks.extend(ocr_blocks(read_page(engine, page), page.height, index + 1))
        except Image.DecompressionBombError as exc:
            raise FileTooLargeError(
                source, f"image is larger than {MAX_PIXELS // 1_000_000} megapixels; scale it down"
            ) from exc
        self.options.step("ocr", frames, frames)
        if not blocks:
            raise EmptyFileError(
                source, "OCR found no text in the image (a photo or drawing without words?); nothing to index"
            )
        metadata: dict[str, Any] = {"ocr": {"engine": engine.name, "pages": list(range(1, frames + 1))}}
        fmt = path.suffix.lower().lstrip(".") or self.format
        return [
            file_document(
                path,
                self.options,
                data=data,
                fmt={"jpg": "jpeg", "tif": "tiff"}.get(fmt, fmt),
                blocks=blocks,
                page_count=frames,
                metadata=metadata,
            )
        ]
