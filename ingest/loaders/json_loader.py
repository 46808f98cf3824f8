"""JSON and JSON Lines: readable ``key.path: value`` lines; BEIR corpus records become documents."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.errors import CorruptFileError
from core.types import Block, Document, sha256_hex
from ingest.loaders.base import LoadOptions, file_document, table_block
from ingest.loaders.text_loader import decode_file, paragraphs

_SCALARS = (str, int, float, bool)
_RULE_LINE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")  # a Markdown |---|---|


def _scalar(value: Any) -> str:
    """A JSON scalar as text (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def flatten(value: Any, prefix: str = "") -> list[str]:
    """``key.path: value`` lines of ``value``; nulls and empty strings dropped."""
    if isinstance(value, dict):
        return [line for k, v in value.items() for line in flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list):
        if all(isinstance(v, _SCALARS) for v in value):
            items = [_scalar(v) for v in value if _scalar(v)]
            return [f"{prefix}: {', '.join(items)}" if prefix else ", ".join(items)] if items else []
        return [line for i, v in enumerate(value) for line in flatten(v, f"{prefix}[{i}]")]
    if value is None or not _scalar(value):
        return []
    return [f"{prefix}: {_scalar(value)}" if prefix else _scalar(value)]


def _is_records(value: Any) -> bool:
    """A list whose items are mostly objects: one block per record reads best."""
    if not isinstance(value, list) or not value:
        return False
    return sum(isinstance(v, dict) for v in value) * 2 >= len(value)


def _paragraph(lines: list[str], path: tuple[str, ...]) -> list[Block]:
    text = "\n".join(lines)
    return [Block(kind="paragraph", text=text, heading_path=path)] if text.strip() else []


def json_blocks(value: Any, path: tuple[str, ...] = ()) -> list[Block]:
    """Blocks for a JSON value: scalars together, each structured top-level key on its own."""
    if _is_records(value):
        return [b for i, record in enumerate(value) for b in _paragraph(flatten(record), (*path, f"[{i}]"))]
    if not isinstance(value, dict) or path:
        return _paragraph(flatten(value), path)
    blocks: list[Block] = []
    pending: list[str] = []
    for key, item in value.items():
        if isinstance(item, dict | list):
            blocks.extend(_paragraph(pending, path))
            pending = []
            if _is_records(item):
                blocks.extend(json_blocks(item, (str(key),)))
            else:
                blocks.extend(_paragraph(flatten(item, str(key)), (str(key),)))
        else:
            pending.extend(flatten(item, str(key)))
    blocks.extend(_paragraph(pending, path))
    return blocks


def _own_title(value: Any) -> str | None:
    """A top-level ``title``/``name`` string, if the object has one."""
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).casefold() in ("title", "name", "subject") and isinstance(item, str):
                return item
    return None


def _text_block(text: str) -> Block:
    """A paragraph of a corpus record; a grid of ``a | b | c`` lines (a table serialised as text,
    e.g. TAT-QA's) becomes a table block, so chunks can carry each row's column headers."""
    lines = text.split("\n")
    cells = [[c.strip() for c in line.split("|")] for line in lines if not _RULE_LINE.match(line)]
    widths = {len(row) for row in cells}
    if len(cells) >= 2 and min(widths) >= 2 and max(widths) - min(widths) <= 1:
        block = table_block(cells)
        if block is not None and len(block.rows) >= 2:
            return replace(block, text=text) if block.text != text else block
    return Block(kind="paragraph", text=text)


def canonical_json(record: Any) -> str:
    """Key-sorted compact JSON: the same record always hashes the same."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class JsonLoader:
    """``.json`` files flattened into paragraph blocks grouped per top-level key."""

    format = "json"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        """Parse ``path`` and flatten it."""
        data = path.read_bytes()
        source = self.options.source_for(path)
        try:
            value = json.loads(decode_file(path, data, source))
        except json.JSONDecodeError as exc:
            raise CorruptFileError(
                source, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        blocks = json_blocks(value)
        return [
            file_document(
                path, self.options, data=data, fmt=self.format, blocks=blocks, title=_own_title(value)
            )
        ]


class JsonLinesLoader:
    """``.jsonl`` files: BEIR corpus records (``_id`` + ``text``) as documents, else one block a line."""

    format = "jsonl"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        """Parse every line of ``path``."""
        data = path.read_bytes()
        source = self.options.source_for(path)
        records: list[Any] = []
        for number, line in enumerate(decode_file(path, data, source).split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise CorruptFileError(source, f"line {number} is not valid JSON: {exc.msg}") from None
        if records and all(isinstance(r, dict) and "_id" in r and "text" in r for r in records):
            return self._corpus(records, source)
        blocks = [b for i, r in enumerate(records) for b in json_blocks(r, (f"[{i}]",))]
        return [file_document(path, self.options, data=data, fmt=self.format, blocks=blocks)]

    def _corpus(self, records: list[dict[str, Any]], source: str) -> list[Document]:
        """One Document per BEIR record, keyed by ``_id``; duplicate ids keep the first record."""
        docs: dict[str, Document] = {}
        for record in records:
            ext_id = str(record["_id"]).strip()
            text = str(record.get("text") or "")
            if not ext_id or ext_id in docs or not text.strip():
                continue
            title = " ".join(str(record.get("title") or "").split()) or ext_id
            metadata = record.get("metadata")
            docs[ext_id] = Document(
                source=f"{source}#{ext_id}",
                title=title,
                blocks=tuple(_text_block(p) for p in paragraphs(text)),
                content_hash=sha256_hex(canonical_json(record)),
                format=self.format,
                external_id=ext_id,
                metadata=dict(metadata) if isinstance(metadata, dict) else {},
            )
        return list(docs.values())
