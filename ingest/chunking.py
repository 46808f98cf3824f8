"""Structure-aware chunking: a Document's blocks become Chunks that fit the embedder's window.

Token counting dominates the cost, so each distinct word is counted once (batched, cached per
chunker) and a text's size is estimated as the sum of its words' counts: exact for WordPiece
(BERT splits on whitespace before anything else), close for other tokenizers. Every finished
chunk is then counted for real in one batched call per document and the rare one over
``max_tokens`` is split again, so the limit holds whatever the tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from langchain_text_splitters import RecursiveCharacterTextSplitter

from core.errors import IngestError
from core.tables import TableCells
from core.types import Block, BlockKind, Chunk, Document
from ingest.table_text import header_count, table_text

# Split points, best first, as regular expressions (kept at the end of the piece before them):
# paragraphs, lines, sentences (Chinese 。！？… need no space after them; English .!? do), clauses,
# phrases (Chinese full-width and enumeration commas), spaces, and characters as a last resort.
SEPARATORS = [
    r"\n\n",
    r"\n",
    r"[。！？…]+[”’」』）]?|[.!?]+[\"')\]]?\s",
    r"[；;]\s?",
    r"[，、,]\s?",
    r"\s",
    "",
]
CONTEXT_JOINER = " > "
CELL_JOINER = " | "
_MAX_CACHED_WORDS = 500_000
_GIANT_WORD_TOKENS = 16  # words this long may be cut into characters: count those up front too
# cells of a split table's other chunks each chunk keeps (a 10-K statement has a few hundred)
_MAX_OTHER_CELLS = 2000
_SCALE_CONTEXT = 300  # characters of the text above a table searched for its scale
_NONBLANK_LINE = re.compile(r"[^\r\n]*\S[^\r\n]*")


class Chunker(Protocol):
    """Splits a document into retrievable chunks, in reading order."""

    def split(self, document: Document) -> list[Chunk]: ...


class TokenCounter(Protocol):
    """Counts the word pieces of each text (batched, no special tokens)."""

    def __call__(self, texts: list[str]) -> list[int]: ...


class ChunkingError(IngestError):
    """A chunk could not be brought under the token limit (a tokenizer that misbehaves)."""


def hf_token_counter(model_dir: str | Path) -> TokenCounter:
    """Batched counter from a local fast Hugging Face tokenizer, e.g. the embedder's own dir."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), use_fast=True, local_files_only=True)
    if not tokenizer.is_fast:
        raise ValueError(f"{model_dir}: no fast tokenizer (tokenizer.json) to count tokens with")
    # A private copy without truncation or padding: tokenizer.json may pin both (MiniLM: 128).
    backend = type(tokenizer.backend_tokenizer).from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)

    def count(texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(e.ids) for e in encode(list(texts), add_special_tokens=False)]

    return count


class _WordCounts:
    """Per-word token counts, filled in batches; a text's estimate is the sum over its words."""

    def __init__(self, count: TokenCounter) -> None:
        self.count = count
        self._words: dict[str, int] = {}

    def prime(self, texts: Iterable[str]) -> None:
        """Count, in one batch, every word of ``texts`` not seen before."""
        words = {w for t in texts for w in t.split()}
        missing = list(words - self._words.keys())
        if len(self._words) + len(missing) > _MAX_CACHED_WORDS:
            self._words.clear()
            missing = list(words)
        if not missing:
            return
        counts = self.count(missing)
        self._words.update(zip(missing, counts, strict=True))
        chars = {c for w, n in zip(missing, counts, strict=True) if n > _GIANT_WORD_TOKENS for c in w}
        if chars - self._words.keys():
            self.prime(chars)

    def estimate(self, text: str) -> int:
        """Token count of ``text`` as the sum of its words' counts."""
        words = text.split()
        try:
            return sum(map(self._words.__getitem__, words))
        except KeyError:
            self.prime(words)
            return sum(map(self._words.__getitem__, words))


@dataclass(frozen=True)
class _Section:
    """What every chunk under one heading path shares: its context line and token budgets."""

    path: tuple[str, ...]
    context: str
    limit: int  # most body tokens a chunk may hold (estimated, safety margin taken off)
    target: int  # body tokens to pack up to


@dataclass(frozen=True)
class _Segment:
    """A stripped piece of body text (a block or part of one) waiting to be packed."""

    start: int
    end: int
    tokens: int
    page: int | None
    kind: BlockKind
    ocr: float | None = None


@dataclass(frozen=True)
class _Draft:
    """A chunk before positions are assigned: context line, optional repeated header, body."""

    context: str
    prefix: str
    body: str
    start: int
    end: int
    page: int | None
    page_end: int | None
    path: tuple[str, ...]
    kind: BlockKind
    ocr: float | None = None
    table: dict[str, Any] | None = None  # a table chunk's cells (core.tables.TableCells.to_json)

    @property
    def text(self) -> str:
        return "\n".join(part for part in (self.context, self.prefix, self.body) if part)


def _stripped(text: str, start: int, *, keep_indent: bool = False) -> tuple[int, int]:
    """Offsets of ``text`` (starting at ``start``) without surrounding whitespace."""
    head = text.lstrip("\r\n") if keep_indent else text.lstrip()
    return start + len(text) - len(head), start + len(text.rstrip())


def _groups(sizes: list[int], base: int, section: _Section) -> list[tuple[int, int, bool]]:
    """Greedy packing of consecutive units: (first, end, too_big_alone) index ranges."""
    groups: list[tuple[int, int, bool]] = []
    first, total = 0, base
    for i, size in enumerate(sizes):
        if base + size > section.limit or (first < i and total + size > section.target):
            if first < i:
                groups.append((first, i, False))
            first, total = i, base
        if base + size > section.limit:
            groups.append((i, i + 1, True))
            first = i + 1
            continue
        total += size
    if first < len(sizes):
        groups.append((first, len(sizes), False))
    return groups


class StructureAwareChunker:
    """Packs blocks under one heading path up to ``target_tokens``; never exceeds ``max_tokens``.

    Example: ``StructureAwareChunker(hf_token_counter(model_dir)).split(document)``.
    """

    def __init__(
        self,
        count_tokens: TokenCounter,
        *,
        max_tokens: int = 254,
        target_tokens: int = 200,
        overlap_tokens: int = 32,
    ) -> None:
        if max_tokens < 16:
            raise ValueError(f"max_tokens={max_tokens}: too small to hold a context line and text")
        if not 0 < target_tokens <= max_tokens:
            raise ValueError(f"target_tokens={target_tokens}: must be in 1..max_tokens")
        if overlap_tokens < 0:
            raise ValueError(f"overlap_tokens={overlap_tokens}: must be >= 0")
        self.max_tokens = max_tokens
        self.target_tokens = target_tokens
        self.overlap_tokens = overlap_tokens
        self._counts = _WordCounts(count_tokens)
        self._slack = max(2, max_tokens // 64)

    def split(self, document: Document) -> list[Chunk]:
        """Chunks of ``document`` in reading order; [] when it has no text."""
        if not any(b.text.strip() for b in document.blocks):
            return []
        doc_text = document.text
        self._prime(document)
        drafts: list[_Draft] = []
        open_: list[_Segment] = []
        sections: dict[tuple[str, ...], _Section] = {}
        section: _Section | None = None
        before = ""  # the text just above a table, where its scale is often stated ("(in millions)")

        def flush() -> None:
            if open_ and section is not None:
                drafts.append(self._packed(section, open_, doc_text))
            open_.clear()

        for block, (start, _) in zip(document.blocks, document.block_spans(), strict=True):
            if not block.text.strip():
                continue
            if block.kind == "heading":
                flush()
                continue
            if section is None or block.heading_path != section.path:
                flush()
                if block.heading_path not in sections:
                    sections[block.heading_path] = self._section(document.title, block.heading_path)
                section = sections[block.heading_path]
            if block.kind == "table" and header_count(block.rows, block.header):
                flush()  # its chunks carry rows rendered with their headers, not the document's text
                drafts.extend(self._split_table(block, start, section, before))
                continue
            before = block.text[-_SCALE_CONTEXT:]
            open_tokens = sum(s.tokens for s in open_)
            if open_ and block.page != open_[-1].page and open_tokens >= self.target_tokens / 3:
                flush()
            tokens = self._counts.estimate(block.text)
            if tokens <= section.limit:
                if open_ and sum(s.tokens for s in open_) + tokens > section.target:
                    flush()
                span = _stripped(block.text, start, keep_indent=block.kind == "code")
                open_.append(_Segment(*span, tokens, block.page, block.kind, block.ocr_confidence))
                continue
            flush()
            if block.kind == "table":
                drafts.extend(self._split_table(block, start, section, before))
            elif block.kind == "code":
                drafts.extend(self._split_code(block, start, section))
            else:
                pieces = [
                    _Segment(s, e, self._counts.estimate(p), block.page, block.kind, block.ocr_confidence)
                    for p, s, e in self._pieces(block.text, start, section.target)
                ]
                drafts.extend(self._packed(section, [p], doc_text) for p in pieces[:-1])
                open_.append(pieces[-1])
        flush()
        return self._finish(drafts)

    def _prime(self, document: Document) -> None:
        """Count every word the document's chunks can contain, in one batch."""
        texts = [document.text, document.title]
        for block in document.blocks:
            texts.extend(block.heading_path)
            texts.extend(cell for row in block.rows for cell in row)
        self._counts.prime([*texts, CELL_JOINER])

    def _section(self, title: str, path: tuple[str, ...]) -> _Section:
        """Context line and budgets for chunks under ``path``."""
        parts = [" ".join(p.split()) for p in (title, *path)]
        parts = [p for p in parts if p]
        if len(parts) > 1 and parts[0].casefold() == parts[1].casefold():
            del parts[1]  # a Markdown H1 that repeats the title
        context = self._truncate(CONTEXT_JOINER.join(parts), self.max_tokens // 3)
        limit = self.max_tokens - self._counts.estimate(context) - self._slack
        target = min(max(self.target_tokens - self._counts.estimate(context), 1), limit)
        return _Section(path, context, limit, target)

    def _truncate(self, text: str, budget: int) -> str:
        """Longest prefix of ``text`` within ``budget`` tokens, cut at a space when possible."""
        if self._counts.estimate(text) <= budget:
            return text
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self._counts.estimate(text[:mid]) <= budget else (lo, mid - 1)
        cut = text.rfind(" ", 0, lo + 1)
        return text[: cut if cut > 0 else lo].rstrip()

    def _pieces(
        self, text: str, offset: int, size: int, length: Callable[[str], int] | None = None
    ) -> list[tuple[str, int, int]]:
        """Recursive split of ``text`` into pieces of at most ``size`` tokens, with doc offsets."""
        size = max(size, 1)
        splitter = RecursiveCharacterTextSplitter(
            separators=SEPARATORS,
            is_separator_regex=True,
            keep_separator="end",
            chunk_size=size,
            chunk_overlap=min(self.overlap_tokens, size // 2),
            length_function=length or self._counts.estimate,
        )
        pieces: list[tuple[str, int, int]] = []
        cursor = 0
        for piece in splitter.split_text(text):
            found = text.find(piece, cursor + 1 if pieces else 0)  # each piece starts after the last
            cursor = found if found >= 0 else cursor
            pieces.append((piece, offset + cursor, offset + cursor + len(piece)))
        return pieces

    def _packed(self, section: _Section, segments: list[_Segment], doc_text: str) -> _Draft:
        """One draft covering consecutive segments (body = the document text they span)."""
        weights: dict[BlockKind, int] = {}
        for s in segments:
            weights[s.kind] = weights.get(s.kind, 0) + s.tokens
        kind = max(weights, key=weights.__getitem__)
        start, end, pages = segments[0].start, segments[-1].end, (segments[0].page, segments[-1].page)
        ocr = min((s.ocr for s in segments if s.ocr is not None), default=None)
        body = doc_text[start:end]
        return _Draft(section.context, "", body, start, end, *pages, section.path, kind, ocr)

    def _draft(self, section: _Section, block: Block, prefix: str, body: str, start: int, end: int) -> _Draft:
        """One draft cut from a single block."""
        page, ocr = block.page, block.ocr_confidence
        return _Draft(section.context, prefix, body, start, end, page, page, section.path, block.kind, ocr)

    def _split_table(self, block: Block, start: int, section: _Section, before: str = "") -> list[_Draft]:
        """Rows packed up to the target, each written with its column headers ("Revenue — 2019:
        1,234; 2018: 1,100") under a caption line, keeping their cells; overlong rows split by cells."""
        found = _NONBLANK_LINE.finditer(block.text)
        lines = [(m.group(), start + m.start(), start + m.end()) for m in found]
        rows = block.rows or tuple((text,) for text, _, _ in lines)
        if len(lines) != len(rows):  # cells hold newlines: find each rendered row instead
            lines = [(CELL_JOINER.join(row), start, start + len(block.text)) for row in rows]
            lines = self._locate(lines, block.text, start)
        rendered = table_text(rows, block.header) if block.rows else None
        skip = rendered.header_rows if rendered else 0
        header_cells = rows[skip - 1] if skip else ()
        header = rendered.caption if rendered else ""
        self._counts.prime([header, *(rendered.rows if rendered else [])])
        if self._counts.estimate(header) > section.limit // 3:
            header = ""  # too big to repeat on every chunk
        raw, rows = lines[skip:], rows[skip:]
        lines = raw
        if rendered:  # the text chunks carry; the spans stay those of the document's rows
            lines = [(text, s, e) for text, (_, s, e) in zip(rendered.rows, raw, strict=True)]
        sizes = [self._counts.estimate(text) for text, _, _ in lines]
        drafts: list[_Draft] = []
        parts: list[tuple[int, TableCells]] = []  # (draft, its rows' cells)
        for a, b, big in _groups(sizes, self._counts.estimate(header), section):
            if big:
                drafts.extend(self._split_row(block, raw[a], rows[a], header_cells, section))
            else:
                body = "\n".join(text for text, _, _ in lines[a:b])
                draft = self._draft(section, block, header, body, lines[a][1], lines[b - 1][2])
                if rendered:
                    statement = section.path[-1] if section.path else ""
                    parts.append((len(drafts), rendered.layout.cells(range(a, b), statement, before)))
                drafts.append(draft)
        for i, cells in parts:  # each part knows the rest of its table (a "Total" row further down)
            rest = (c for j, other in parts if j != i for c in other.cells)
            others = tuple(islice(rest, _MAX_OTHER_CELLS))
            drafts[i] = replace(drafts[i], table=replace(cells, others=others).to_json())
        return drafts

    def _split_row(
        self,
        block: Block,
        line: tuple[str, int, int],
        cells: tuple[str, ...],
        header_cells: tuple[str, ...],
        section: _Section,
    ) -> list[_Draft]:
        """An overlong row as groups of cells, each under its header cells; huge cells split."""
        text, row_start, row_end = line
        units = self._locate([(c.strip(), row_start, row_end) for c in cells], text, row_start)
        heads = [header_cells[i] if i < len(header_cells) else "" for i in range(len(cells))]
        joiner = 2 * self._counts.estimate(CELL_JOINER)
        sizes = [
            self._counts.estimate(f"{c} {h}") + joiner for (c, _, _), h in zip(units, heads, strict=True)
        ]
        drafts: list[_Draft] = []
        for a, b, big in _groups(sizes, 0, section):
            if big:
                head = heads[a] if self._counts.estimate(heads[a]) <= section.limit // 3 else ""
                size = section.target - self._counts.estimate(head)
                for piece, s, e in self._pieces(units[a][0], units[a][1], size):
                    drafts.append(self._draft(section, block, head, piece, s, e))
            elif any(cell for cell, _, _ in units[a:b]):
                prefix = CELL_JOINER.join(heads[a:b]) if header_cells else ""
                body = CELL_JOINER.join(cell for cell, _, _ in units[a:b])
                drafts.append(self._draft(section, block, prefix, body, units[a][1], units[b - 1][2]))
        return drafts

    @staticmethod
    def _locate(items: list[tuple[str, int, int]], text: str, offset: int) -> list[tuple[str, int, int]]:
        """Offsets of each item found in ``text`` in order; the given fallback span if not found."""
        located: list[tuple[str, int, int]] = []
        cursor = 0
        for item, fallback_start, fallback_end in items:
            at = text.find(item, cursor)
            if at < 0:
                located.append((item, fallback_start, fallback_end))
                continue
            cursor = at + len(item)
            located.append((item, offset + at, offset + cursor))
        return located

    def _split_code(self, block: Block, start: int, section: _Section) -> list[_Draft]:
        """Whole lines packed up to the target; a line over the limit is split like prose."""
        lines = list(_NONBLANK_LINE.finditer(block.text))
        sizes = [self._counts.estimate(m.group()) for m in lines]
        drafts: list[_Draft] = []
        for a, b, big in _groups(sizes, 0, section):
            if big:
                for piece, s, e in self._pieces(lines[a].group(), start + lines[a].start(), section.target):
                    drafts.append(self._draft(section, block, "", piece, s, e))
            else:
                s, e = lines[a].start(), lines[b - 1].end()
                drafts.append(self._draft(section, block, "", block.text[s:e], start + s, start + e))
        return drafts

    def _finish(self, drafts: list[_Draft]) -> list[Chunk]:
        """Verify real token counts in one batch, re-split offenders, number the chunks."""
        drafts = [d for d in drafts if d.body.strip()]
        counts = self._counts.count([d.text for d in drafts])
        final: list[_Draft] = []
        for draft, n in zip(drafts, counts, strict=True):
            final.extend([draft] if n <= self.max_tokens else self._resplit(draft))
        return [
            Chunk(d.text, i, d.start, d.end, d.page, d.page_end, d.path, d.kind, d.ocr, d.table)
            for i, d in enumerate(final)
        ]

    def _resplit(self, draft: _Draft) -> list[_Draft]:
        """Split an over-limit draft's body with exact counts until every piece fits."""
        cache: dict[str, int] = {}

        def exact(text: str) -> int:
            if text not in cache:
                cache[text] = self._counts.count([text])[0]
            return cache[text]

        prefix = draft.prefix
        if exact(replace(draft, body="").text) > self.max_tokens * 2 // 3:
            prefix = ""  # the repeated header is what is too big
        size = self.max_tokens - exact(replace(draft, prefix=prefix, body="").text) - self._slack
        for _ in range(32):
            pieces = [
                replace(draft, prefix=prefix, body=p, start=s, end=e)
                for p, s, e in self._pieces(draft.body, draft.start, size, exact)
            ]
            counts = self._counts.count([p.text for p in pieces])
            if max(counts) <= self.max_tokens:
                return pieces
            size = max(1, min(size - 1, size * 3 // 4))
        raise ChunkingError(f"cannot fit a chunk of {draft.path} under {self.max_tokens} tokens")
