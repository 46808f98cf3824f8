"""Page images whose text is known: text typeset with a real font, scanned-looking variants
(skewed, turned sideways, faint), and image-only PDFs made of them. Used by benchmarks/ocr.py and
the OCR tests, so both read pages made the same way."""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # Debian fonts-wqy-zenhei: CJK and Latin
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # fonts-noto-cjk
)
A4_INCHES = (8.27, 11.69)


def font_path() -> Path | None:
    """A font with Chinese and Latin glyphs, if one is installed (scripts/system_deps.sh adds one)."""
    return next((p for p in FONT_CANDIDATES if p.is_file()), None)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Lines no wider than ``width``, broken between words, or between any two CJK characters."""
    lines: list[str] = []
    current = ""
    for token in re.findall(r"[^\W\d_]+(?<![\u3000-\u9fff])|\d+|\s+|.", text):
        if font.getlength(current + token) <= width or not current.strip():
            current += token
        else:
            lines.append(current.strip())
            current = token.lstrip()
    if current.strip():
        lines.append(current.strip())
    return lines


def render_page(
    paragraphs: list[str], *, dpi: int = 200, point_size: float = 11, ink: int = 0
) -> Image.Image:
    """An A4 page (greyscale) with ``paragraphs`` typeset top to bottom, 1-inch margins."""
    path = font_path()
    if path is None:
        raise FileNotFoundError("no CJK font installed: apt-get install fonts-wqy-zenhei")
    width, height = (int(side * dpi) for side in A4_INCHES)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(path), size=max(8, round(point_size * dpi / 72)))
    line_height = font.size * 1.5
    y = float(dpi)
    for paragraph in paragraphs:
        for line in _wrap(paragraph, font, width - 2 * dpi):
            if y + line_height > height - dpi:
                return page
            draw.text((dpi, y), line, fill=ink, font=font)
            y += line_height
        y += line_height * 0.6
    return page


def faint(page: Image.Image) -> Image.Image:
    """A low-contrast copy: grey text on a grey background, like a faded photocopy."""
    return page.point(lambda v: 150 + v * 70 // 255)


def skewed(page: Image.Image, degrees: float) -> Image.Image:
    """The page rotated by a few degrees, as a sheet fed askew into a scanner."""
    return page.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


def sideways(page: Image.Image) -> Image.Image:
    """The page turned a quarter (scanned in landscape)."""
    return page.transpose(Image.Transpose.ROTATE_90)


def image_pdf(pages: list[Image.Image], dpi: int = 200) -> bytes:
    """A PDF whose pages are only these images (no text layer), like a scanner's output."""
    out = io.BytesIO()
    first, *rest = [p.convert("RGB") for p in pages]
    first.save(out, format="PDF", save_all=True, append_images=rest, resolution=dpi)
    return out.getvalue()
