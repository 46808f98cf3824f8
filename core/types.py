"""Shared dataclasses that cross layer boundaries: Block, Document, Chunk, Hit.

They are frozen so a stage can never mutate what an earlier stage produced.
Char spans always refer to ``Document.text`` (the blocks joined by ``BLOCK_SEPARATOR``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

BLOCK_SEPARATOR = "\n\n"

BlockKind = Literal["heading", "paragraph", "table", "code", "list"]


def sha256_hex(data: bytes | str) -> str:
    """Hex sha256 of bytes or UTF-8 text."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Block:
    """One structural element of a document, in reading order.

    ``heading_path`` is the chain of headings (or sheet / table names) the block sits under,
    not including the block itself when it is a heading. ``page`` is 1-based (PDF only).
    For tables, ``rows`` holds the cell texts row by row (first row = header when ``header`` is
    true) so a chunker can split between rows and repeat the header; ``text`` is the rendered
    table (one row per line, cells joined by `` | ``). ``ocr_confidence`` (0-1) is set when the
    text was recognised from an image (a scanned page, a figure) rather than read from the file.
    """

    kind: BlockKind
    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    level: int = 0
    rows: tuple[tuple[str, ...], ...] = ()
    header: bool = False
    ocr_confidence: float | None = None


@dataclass(frozen=True)
class Document:
    """A loaded source file (or one record of a multi-record file such as corpus.jsonl).

    ``source`` is what a citation shows (the file path, or ``corpus.jsonl#<id>``);
    ``content_hash`` is the sha256 of the bytes the document came from (for multi-record files:
    of the record), and decides whether a re-ingest is a no-op.
    """

    source: str
    title: str
    blocks: tuple[Block, ...]
    content_hash: str
    format: str
    external_id: str | None = None
    page_count: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def text(self) -> str:
        return BLOCK_SEPARATOR.join(b.text for b in self.blocks)

    def block_spans(self) -> list[tuple[int, int]]:
        """(start, end) char offsets of each block inside ``self.text``."""
        spans: list[tuple[int, int]] = []
        pos = 0
        for block in self.blocks:
            spans.append((pos, pos + len(block.text)))
            pos += len(block.text) + len(BLOCK_SEPARATOR)
        return spans


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document, small enough for the embedder's token limit.

    ``text`` is what the embedder and BM25 see (it starts with the heading path, so the context
    travels with the chunk); ``char_start``/``char_end`` point into ``Document.text`` for citations.
    ``ocr_confidence`` is the lowest confidence of the OCR'd blocks it holds (None: no OCR text).
    ``table``: a table chunk's cells with row labels, column headers, scale and unit
    (``core.tables.TableCells.to_json``), so figures can be checked and computed cell by cell.
    """

    text: str
    position: int
    char_start: int
    char_end: int
    page: int | None = None
    page_end: int | None = None
    heading_path: tuple[str, ...] = ()
    kind: BlockKind = "paragraph"
    ocr_confidence: float | None = None
    table: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def content_hash(self) -> str:
        return sha256_hex(self.text)


def chunk_id(kb: str, source: str, position: int, text: str) -> str:
    """Stable chunk id from knowledge base, source, position and content (hex sha256)."""
    return sha256_hex(f"{kb}\x1f{source}\x1f{position}\x1f{sha256_hex(text)}")


def vector_id(chunk_id_hex: str) -> int:
    """FAISS int64 id of a chunk: the first 63 bits of its id (collisions ~ 2^-63 per pair)."""
    return int(chunk_id_hex[:16], 16) & 0x7FFF_FFFF_FFFF_FFFF


def document_id(kb: str, source: str) -> str:
    """Stable document id: one per (knowledge base, source); versions share it."""
    return sha256_hex(f"{kb}\x1f{source}")[:32]


EVERYONE = "everyone"  # the knowledge-base read group every signed-in principal belongs to


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user id and the access groups they belong to. ``admin`` reads everything."""

    user_id: str
    groups: frozenset[str] = frozenset()
    admin: bool = False


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the scores of each stage that saw it."""

    chunk_id: str
    document_id: str
    kb: str
    text: str
    source: str
    title: str
    page: int | None
    heading_path: tuple[str, ...]
    char_start: int
    char_end: int
    external_id: str | None = None
    dense_score: float | None = None
    sparse_score: float | None = None
    fused_score: float | None = None
    rerank_score: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def score(self) -> float:
        for value in (self.rerank_score, self.fused_score, self.dense_score, self.sparse_score):
            if value is not None:
                return value
        return 0.0


@dataclass(frozen=True)
class Citation:
    """A numbered source an answer cites, with the snippet that supports it."""

    n: int
    chunk_id: str
    document_id: str
    source: str
    title: str
    page: int | None
    section: str | None
    snippet: str
    char_start: int
    char_end: int
    kb: str = ""
    ocr_confidence: float | None = None  # the cited text was recognised from an image (OCR)
    page_end: int | None = None  # the passage runs on to this page (None: it sits on ``page``)


@dataclass(frozen=True)
class Answer:
    """A grounded answer: text with [n] markers, checked citations, and what could not be verified."""

    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    unsupported_sentences: tuple[str, ...]
    sources: tuple[Hit, ...]
    timings: dict[str, float] = field(default_factory=dict, compare=False, hash=False)
    query: str = ""
    removed_citations: int = 0  # phantom [n] markers the model wrote and the checker removed
    # generated: the model's checked sentences; quoted: a passage's sentences verbatim; abstained
    kind: str = "generated"
    notice: str = ""  # for the agent only, never part of ``text`` (e.g. "not covered: holding reply")
    closest: tuple[Citation, ...] = ()  # on abstention: nearest passages, one per document and page
