"""The ``Loader`` protocol and the helpers every format loader shares (options, titles, tables)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.types import Block, Document, sha256_hex
from ingest.ocr import OcrEngine

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_MAX_EXPANDED_BYTES = 500 * 1024 * 1024
DEFAULT_OCR_DPI = 200
OCR_OFF = (
    "OCR is turned off for this knowledge base; turn it on (`kb bases update NAME --ocr`, "
    "or the admin page) and ingest the file again"
)
CELL_JOINER = " | "

_NUMBER = re.compile(r"^[(\[]?[-+−–]?[$€£¥]?\s?[-+−–]?\d[\d,.'\s]*(?:%|[kKmMbB]n?)?[)\]]?$")
_YEAR = re.compile(r"^(?:FY\s?)?(?:19|20)\d\d$")
_FILENAME_TITLE = re.compile(r"\.(?:pdf|docx?|xlsx?|pptx?|html?|txt|md|rtf|odt|csv|json)\s*$", re.I)
_PLACEHOLDER_TITLES = {"title", "document", "untitled", "no title", "none", "slide 1", "page 1"}


StepProgress = Callable[[str, int, int], None]
"""progress(step, done, total) inside one file, e.g. ("ocr", 3, 40) while page 4 of 40 is read."""


@dataclass(frozen=True)
class LoadOptions:
    """What a loader needs besides the path: citation source, limits, OCR engine, progress callback.

    ``ocr`` None means text in images is not recognised (OCR off for the knowledge base)."""

    source: str | None = None
    max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES
    ocr: OcrEngine | None = None
    ocr_dpi: int = DEFAULT_OCR_DPI
    progress: StepProgress | None = None
    depth: int = 0  # how deep inside attachments / converted files this load is

    def source_for(self, path: Path) -> str:
        """The citation source of ``path`` (the given source, else the file name)."""
        return self.source or path.name

    def step(self, step: str, done: int, total: int) -> None:
        """Report progress inside the file, when someone listens."""
        if self.progress is not None:
            self.progress(step, done, total)


@runtime_checkable
class Loader(Protocol):
    """Turns one file into documents (usually one; several for multi-record files)."""

    format: str

    def load(self, path: Path) -> list[Document]: ...


def meaningful_title(raw: str | None) -> str | None:
    """``raw`` tidied, or None when it is empty, a placeholder or just a file name."""
    title = " ".join((raw or "").split())
    if len(title) < 3 or not any(ch.isalpha() for ch in title):
        return None
    folded = title.casefold()
    if folded in _PLACEHOLDER_TITLES or folded.startswith(("untitled", "microsoft word - ")):
        return None
    if _FILENAME_TITLE.search(title):
        return None
    return title[:300]


def file_document(
    path: Path,
    options: LoadOptions,
    *,
    data: bytes,
    fmt: str,
    blocks: Iterable[Block],
    title: str | None = None,
    page_count: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> Document:
    """A Document for a whole file: hash of its bytes, title falling back to the file stem."""
    return Document(
        source=options.source_for(path),
        title=meaningful_title(title) or path.stem,
        blocks=tuple(b for b in blocks if b.text.strip()),
        content_hash=sha256_hex(data),
        format=fmt,
        page_count=page_count,
        metadata=metadata or {},
    )


def clean_cell(value: object) -> str:
    """Cell text on one line with collapsed whitespace (rendered rows must not break)."""
    if value is None:
        return ""
    return " ".join(str(value).split())


def is_number(text: str) -> bool:
    """True for numeric-looking cells: 1,234.5  (12)  -3%  $ 4.5  12.5m."""
    return bool(text) and _NUMBER.match(text) is not None


def looks_like_header(rows: Sequence[Sequence[str]]) -> bool:
    """Heuristic: the first row is short labels (no figures) above at least one more row."""
    if len(rows) < 2 or len(rows[0]) < 2:
        return False
    first = rows[0]
    filled = [c for c in first if c]
    if len(filled) * 2 < len(first) or any(len(c) > 80 for c in filled):
        return False
    if any(is_number(c) and not _YEAR.match(c) for c in filled):
        return False
    body_has_numbers = any(is_number(c) for row in rows[1:] for c in row)
    return body_has_numbers or (len(filled) == len(first) and len(set(filled)) == len(filled))


def table_block(
    rows: Iterable[Sequence[object]],
    heading_path: tuple[str, ...] = (),
    *,
    page: int | None = None,
    header: bool | None = None,
) -> Block | None:
    """A ``kind="table"`` block: empty rows and columns dropped, rows padded, text rendered."""
    cleaned = [[clean_cell(c) for c in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return None
    width = max(len(row) for row in cleaned)
    for row in cleaned:
        row.extend([""] * (width - len(row)))
    keep = [i for i in range(width) if any(row[i] for row in cleaned)]
    final = tuple(tuple(row[i] for i in keep) for row in cleaned)
    text = "\n".join(CELL_JOINER.join(row) for row in final)
    is_header = looks_like_header(final) if header is None else header and len(final) > 1
    return Block(kind="table", text=text, heading_path=heading_path, page=page, rows=final, header=is_header)


class HeadingStack:
    """Tracks the chain of open headings; ``path`` is what a block under them carries."""

    def __init__(self, root: tuple[str, ...] = ()) -> None:
        self.root = root
        self._stack: list[tuple[int, str]] = []

    @property
    def path(self) -> tuple[str, ...]:
        return self.root + tuple(text for _, text in self._stack)

    def push(self, level: int, text: str) -> Block:
        """Open a heading at ``level`` (closing deeper or equal ones); returns its heading block."""
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        block = Block(kind="heading", text=text, heading_path=self.path, level=level)
        self._stack.append((level, text))
        return block
