"""Format loaders behind one entry point: ``load_path(Path("handbook.pdf")) -> list[Document]``."""

# The extension picks the loader; the content's magic bytes are checked first, so a mislabelled
# file is either read by the right loader or reported clearly. Every failure is a LoaderError.

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from core.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    FileTooLargeError,
    LoaderError,
    UnsupportedFormatError,
)
from core.types import Document
from ingest.loaders.base import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_EXPANDED_BYTES,
    DEFAULT_OCR_DPI,
    Loader,
    LoadOptions,
    StepProgress,
)
from ingest.loaders.csv_loader import CsvLoader
from ingest.loaders.docx_loader import DocxLoader
from ingest.loaders.email_loader import EmailLoader
from ingest.loaders.html_loader import HtmlLoader
from ingest.loaders.image_loader import ImageLoader
from ingest.loaders.json_loader import JsonLinesLoader, JsonLoader
from ingest.loaders.markdown_loader import MarkdownLoader
from ingest.loaders.office_loader import OFFICE_EXTENSIONS, OfficeLoader
from ingest.loaders.pdf_loader import PdfLoader
from ingest.loaders.pptx_loader import PptxLoader
from ingest.loaders.sniff import DESCRIPTIONS, HEAD_BYTES, is_encrypted_office, sniff
from ingest.loaders.text_loader import TextLoader
from ingest.loaders.xlsx_loader import XlsxLoader
from ingest.ocr import OcrEngine

__all__ = [
    "IMAGE_EXTENSIONS",
    "LOADERS",
    "REFUSED_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "Loader",
    "LoadOptions",
    "StepProgress",
    "load_path",
    "loader_for",
]

log = logging.getLogger(__name__)

LoaderFactory = Callable[[LoadOptions], Loader]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
LOADERS: dict[str, LoaderFactory] = {
    ".pdf": PdfLoader,
    ".docx": DocxLoader,
    ".xlsx": XlsxLoader,
    ".xlsm": XlsxLoader,
    ".pptx": PptxLoader,
    ".eml": EmailLoader,
    **dict.fromkeys(IMAGE_EXTENSIONS, ImageLoader),
    **dict.fromkeys(OFFICE_EXTENSIONS, OfficeLoader),
    ".html": HtmlLoader,
    ".htm": HtmlLoader,
    ".xhtml": HtmlLoader,
    ".md": MarkdownLoader,
    ".markdown": MarkdownLoader,
    ".txt": TextLoader,
    ".text": TextLoader,
    ".csv": CsvLoader,
    ".tsv": CsvLoader,
    ".json": JsonLoader,
    ".jsonl": JsonLinesLoader,
}
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(LOADERS)

_BINARY_FORMATS = {"pdf": ".pdf", "docx": ".docx", "xlsx": ".xlsx", "pptx": ".pptx"}
_IMAGE_KINDS = frozenset(k for k in DESCRIPTIONS if k.endswith(" image"))
_EXPECTED = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".pptx": "pptx",
    ".png": "png image",
    ".jpg": "jpeg image",
    ".jpeg": "jpeg image",
    ".tif": "tiff image",
    ".tiff": "tiff image",
    ".bmp": "bmp image",
    ".webp": "webp image",
    ".doc": "ole2",
    ".xls": "ole2",
    ".ppt": "ole2",
    ".rtf": "rtf",
    ".odt": "odt",
    ".ods": "ods",
    ".odp": "odp",
}
# Other contents the extension's loader reads as well: any image format for an image; Word and
# Excel save RTF and HTML under .doc/.xls, which LibreOffice converts like the real thing.
_ALSO_READ = {
    **dict.fromkeys(IMAGE_EXTENSIONS, _IMAGE_KINDS),
    ".doc": frozenset({"rtf", "html", "xml"}),
    ".xls": frozenset({"html", "xml"}),
}
# A legacy Office 97-2003 file saved under the modern extension is read as what it is.
_LEGACY_OF = {".docx": ".doc", ".xlsx": ".xls", ".xlsm": ".xls", ".pptx": ".ppt"}
_TEXT_KINDS = {"text", "html", "xml"}
REFUSED_EXTENSIONS = {
    ".msg": "Outlook .msg files are not read (the maintained parser is GPL-licensed); "
    "save the message as .eml (File > Save As) and upload that",
}


def _supported() -> str:
    return ", ".join(sorted(SUPPORTED_EXTENSIONS))


def loader_for(path: Path, options: LoadOptions | None = None) -> Loader:
    """The loader for ``path``'s extension (no content check); UnsupportedFormatError if none."""
    options = options or LoadOptions()
    factory = LOADERS.get(path.suffix.lower())
    if factory is None:
        raise UnsupportedFormatError(
            options.source_for(path),
            f"unsupported file type '{path.suffix or '(no extension)'}'; supported: {_supported()}",
        )
    return factory(options)


def _mismatch(path: Path, source: str, ext: str, kind: str) -> LoaderError:
    """The error for a binary-format extension whose content is something else."""
    expected = DESCRIPTIONS[_EXPECTED[ext]]
    found = DESCRIPTIONS.get(kind, kind)
    if kind == "ole2" and is_encrypted_office(path.read_bytes()):
        return EncryptedFileError(
            source, "password-protected Office document; remove the password and re-upload"
        )
    if kind == "ole2":
        hint = "save it in the current format (.docx/.xlsx/.pptx) and re-upload"
    elif kind == "zip":
        hint = "the zip holds no Word/Excel/PowerPoint parts, or its directory is damaged; re-export the file"
    elif kind in _TEXT_KINDS:
        suffix = ".html" if kind == "html" else ".txt"
        hint = f"it was probably renamed; upload it with the right extension (e.g. {suffix})"
    else:
        hint = "it was probably renamed or damaged; re-export the original"
    return CorruptFileError(source, f"not {expected}: the file contains {found}; {hint}")


def _route(path: Path, source: str) -> str:
    """The extension whose loader should read ``path``, after sniffing its first bytes."""
    ext = path.suffix.lower()
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    kind = sniff(path, head)
    expected = _EXPECTED.get(ext)
    if kind in _BINARY_FORMATS and kind != expected and (ext in SUPPORTED_EXTENSIONS or not ext):
        log.info("%s: content is %s, read as such despite the extension", source, kind)
        return _BINARY_FORMATS[kind]
    if kind == "ole2" and ext in _LEGACY_OF and not is_encrypted_office(path.read_bytes()):
        log.info("%s: a legacy Office file under a modern extension; converting it", source)
        return _LEGACY_OF[ext]
    if ext in REFUSED_EXTENSIONS:
        raise UnsupportedFormatError(source, REFUSED_EXTENSIONS[ext])
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFormatError(
            source,
            f"unsupported file type '{ext or '(no extension)'}' ({DESCRIPTIONS.get(kind, kind)}); "
            f"supported: {_supported()}",
        )
    if expected is not None and kind != expected and kind not in _ALSO_READ.get(ext, ()):
        raise _mismatch(path, source, ext, kind)
    if expected is None and kind not in _TEXT_KINDS:
        raise CorruptFileError(
            source, f"expected text for '{ext}' but the file contains {DESCRIPTIONS.get(kind, kind)}"
        )
    return ext


def load_path(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES,
    source: str | None = None,
    ocr: OcrEngine | None = None,
    ocr_dpi: int = DEFAULT_OCR_DPI,
    progress: StepProgress | None = None,
    depth: int = 0,
) -> list[Document]:
    """Load ``path`` into documents; raises a LoaderError subclass with an actionable reason.

    ``ocr`` reads text in scanned pages and images (None: such files are refused, saying why);
    ``progress(step, done, total)`` hears about slow steps inside the file (OCR pages)."""
    path = Path(path)
    source = source or path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoaderError(source, f"cannot read the file: {exc.strerror or exc}") from exc
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS and size == 0:
        loader_for(path, LoadOptions(source=source))  # unsupported beats empty
    if size == 0:
        raise EmptyFileError(source, "the file is empty (0 bytes); nothing to index")
    if size > max_bytes:
        raise FileTooLargeError(
            source,
            f"file is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.1f} MiB limit;"
            " split it or raise the limit",
        )
    options = LoadOptions(
        source=source,
        max_expanded_bytes=max_expanded_bytes,
        ocr=ocr,
        ocr_dpi=ocr_dpi,
        progress=progress,
        depth=depth,
    )
    ext = path.suffix.lower()
    try:
        ext = _route(path, source)
        docs = LOADERS[ext](options).load(path)
    except LoaderError:
        raise
    except MemoryError as exc:
        raise FileTooLargeError(source, "ran out of memory while parsing; the file is too large") from exc
    except Exception as exc:
        log.debug("%s: parser error", source, exc_info=True)
        fmt = ext.lstrip(".").upper() or "file"
        raise CorruptFileError(
            source, f"damaged or unreadable {fmt} file ({type(exc).__name__}: {exc})"
        ) from exc
    if not any(b.text.strip() for d in docs for b in d.blocks):
        raise EmptyFileError(source, "no text found in the file; nothing to index")
    return docs
