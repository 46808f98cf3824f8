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
from ingest.loaders.base import DEFAULT_MAX_BYTES, DEFAULT_MAX_EXPANDED_BYTES, Loader, LoadOptions
from ingest.loaders.csv_loader import CsvLoader
from ingest.loaders.docx_loader import DocxLoader
from ingest.loaders.html_loader import HtmlLoader
from ingest.loaders.json_loader import JsonLinesLoader, JsonLoader
from ingest.loaders.markdown_loader import MarkdownLoader
from ingest.loaders.pdf_loader import PdfLoader
from ingest.loaders.sniff import DESCRIPTIONS, HEAD_BYTES, is_encrypted_office, sniff
from ingest.loaders.text_loader import TextLoader
from ingest.loaders.xlsx_loader import XlsxLoader

__all__ = [
    "LOADERS",
    "SUPPORTED_EXTENSIONS",
    "Loader",
    "LoadOptions",
    "load_path",
    "loader_for",
]

log = logging.getLogger(__name__)

LoaderFactory = Callable[[LoadOptions], Loader]

LOADERS: dict[str, LoaderFactory] = {
    ".pdf": PdfLoader,
    ".docx": DocxLoader,
    ".xlsx": XlsxLoader,
    ".xlsm": XlsxLoader,
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

_BINARY_FORMATS = {"pdf": ".pdf", "docx": ".docx", "xlsx": ".xlsx"}
_EXPECTED = {".pdf": "pdf", ".docx": "docx", ".xlsx": "xlsx", ".xlsm": "xlsx"}
_TEXT_KINDS = {"text", "html", "xml"}


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
        hint = "save it in the current format (.docx/.xlsx) and re-upload"
    elif kind == "zip":
        hint = "the zip holds no Word/Excel parts, or its directory is damaged; re-export the file"
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
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFormatError(
            source,
            f"unsupported file type '{ext or '(no extension)'}' ({DESCRIPTIONS.get(kind, kind)}); "
            f"supported: {_supported()}",
        )
    if expected is not None and kind != expected:
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
) -> list[Document]:
    """Load ``path`` into documents; raises a LoaderError subclass with an actionable reason."""
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
    options = LoadOptions(source=source, max_expanded_bytes=max_expanded_bytes)
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
