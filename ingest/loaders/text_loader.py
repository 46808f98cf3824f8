"""Plain text: encoding detection shared by every text format, paragraphs at blank lines."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import charset_normalizer

from core.errors import CorruptFileError
from core.types import Block, Document
from ingest.loaders.base import LoadOptions, file_document

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# On a tie between candidates that decode equally well, the common Western encodings win:
# a short Latin-1 file is far more likely than cp1250 or a Mac code page.
_PREFERRED = ("utf_8", "cp1252", "latin_1", "iso8859_15", "cp1250", "iso8859_2", "utf_16")
_DETECT_SAMPLE = 512 * 1024
_BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n\s*")


class UndecodableTextError(ValueError):
    """The bytes are not text in any encoding charset-normalizer recognises."""


def _rank(match: charset_normalizer.CharsetMatch) -> tuple[float, int, str]:
    """Sort key: most coherent first, then the preferred encoding among equivalents."""
    names = [match.encoding, *match.could_be_from_charset]
    best = min((_PREFERRED.index(n) for n in names if n in _PREFERRED), default=len(_PREFERRED))
    name = _PREFERRED[best] if best < len(_PREFERRED) else match.encoding
    return (-round(match.coherence, 2), best, name)


def detect_encoding(data: bytes, declared: str | None = None) -> str:
    """Python codec name for ``data``: BOM, then a declared charset that decodes, UTF-8, detection."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    candidates = [declared] if declared else []
    candidates.append("utf-8")
    for name in candidates:
        try:
            data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
        return codecs.lookup(name).name
    if b"\x00" in data[:4096] and data[:4096].count(b"\x00") * 4 > len(data[:4096]):
        raise UndecodableTextError("binary data (NUL bytes), not text")
    matches = list(charset_normalizer.from_bytes(data[:_DETECT_SAMPLE]))
    if not matches:
        raise UndecodableTextError("binary data or an unknown text encoding")
    least_chaos = min(m.chaos for m in matches)
    close = [m for m in matches if m.chaos <= least_chaos + 0.01]
    return min(_rank(m) for m in close)[2]


def decode_text(data: bytes, declared: str | None = None) -> str:
    """``data`` as text with ``\\n`` line ends (see ``detect_encoding``)."""
    text = data.decode(detect_encoding(data, declared), errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def decode_file(path: Path, data: bytes, source: str, declared: str | None = None) -> str:
    """``decode_text`` that reports undecodable bytes as a CorruptFileError."""
    try:
        return decode_text(data, declared)
    except UndecodableTextError as exc:
        raise CorruptFileError(source, f"cannot read as text: {exc}; is the extension right?") from exc


def paragraphs(text: str) -> list[str]:
    """Non-empty paragraphs of ``text`` split at blank lines, trailing spaces removed."""
    parts = (p.strip("\n").rstrip() for p in _BLANK_LINES.split(text))
    return [p for p in parts if p.strip()]


class TextLoader:
    """``.txt`` files: one paragraph block per run of non-blank lines."""

    format = "txt"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        """Decode and split ``path`` into paragraphs."""
        data = path.read_bytes()
        text = decode_file(path, data, self.options.source_for(path))
        blocks = [Block(kind="paragraph", text=p) for p in paragraphs(text)]
        return [file_document(path, self.options, data=data, fmt=self.format, blocks=blocks)]
