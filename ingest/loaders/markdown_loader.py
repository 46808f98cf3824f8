"""Markdown (markdown-it-py): heading hierarchy, fenced code kept whole, pipe tables, lists."""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from core.types import Block, BlockKind, Document
from ingest.loaders.base import HeadingStack, LoadOptions, file_document, table_block
from ingest.loaders.text_loader import decode_file

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:\s*['\"]?(.*?)['\"]?\s*$", re.M)
_TAG = re.compile(r"<[^>]*>")


def _inline_text(token: Token) -> str:
    """Plain text of an inline token: markup dropped, link text and image alt text kept."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts).strip()


def _fence_text(token: Token) -> str:
    """A fenced block rendered whole, fences and language included."""
    fence = token.markup or "```"
    return f"{fence}{token.info.strip()}\n{token.content.rstrip(chr(10))}\n{fence}"


def split_front_matter(text: str) -> tuple[str, str | None]:
    """``text`` without a leading YAML front matter block, and the title it declares."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, None
    title = _FRONT_TITLE.search(match.group(1))
    return text[match.end() :], title.group(1) if title else None


class _Builder:
    """Walks markdown-it tokens once and collects blocks."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.headings = HeadingStack()
        self.first_h1: str | None = None
        self.lists: list[list[int]] = []  # per open list: [next number] ([-1] for bullets)
        self.list_lines: list[str] = []
        self.item_first: list[bool] = []
        self.rows: list[list[str]] | None = None
        self.header_cells = False

    def add(self, kind: BlockKind, text: str) -> None:
        if text.strip():
            self.blocks.append(Block(kind=kind, text=text, heading_path=self.headings.path))

    def list_line(self, text: str) -> None:
        """A line inside the open list: the item marker on its first paragraph, indented after."""
        depth = len(self.lists) - 1
        indent = "  " * depth
        if self.item_first and self.item_first[-1]:
            counter = self.lists[-1]
            marker = "-" if counter[0] < 0 else f"{counter[0] - 1}."
            self.item_first[-1] = False
            lines = text.split("\n")
            self.list_lines.append(f"{indent}{marker} {lines[0]}")
            self.list_lines.extend(f"{indent}  {line}" for line in lines[1:])
        else:
            self.list_lines.extend(f"{indent}  {line}" for line in text.split("\n"))

    def text_block(self, kind: BlockKind, text: str) -> None:
        """Paragraph/code text: into the open list if there is one, else a block of its own."""
        if self.rows is not None:
            return
        if self.lists:
            self.list_line(text)
        else:
            self.add(kind, text)

    def feed(self, tokens: list[Token]) -> None:
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            kind = tok.type
            if kind == "heading_open":
                text = " ".join(_inline_text(tokens[i + 1]).split())
                level = int(tok.tag[1:])
                if text:
                    self.blocks.append(self.headings.push(level, text))
                    if level == 1 and self.first_h1 is None:
                        self.first_h1 = text
                i += 3
                continue
            if kind in ("bullet_list_open", "ordered_list_open"):
                start = int(tok.attrGet("start") or 1) if kind == "ordered_list_open" else -1
                self.lists.append([start])
            elif kind == "list_item_open":
                self.item_first.append(True)
                if self.lists[-1][0] >= 0:
                    self.lists[-1][0] += 1
            elif kind == "list_item_close":
                self.item_first.pop()
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
                if not self.lists:
                    self.add("list", "\n".join(self.list_lines))
                    self.list_lines = []
            elif kind == "table_open":
                self.rows, self.header_cells = [], False
            elif kind == "tr_open" and self.rows is not None:
                self.rows.append([])
            elif kind in ("th_open", "td_open") and self.rows is not None:
                cell = _inline_text(tokens[i + 1]) if tokens[i + 1].type == "inline" else ""
                self.rows[-1].append(cell)
                self.header_cells = self.header_cells or (kind == "th_open" and bool(cell))
            elif kind == "table_close" and self.rows is not None:
                block = table_block(self.rows, self.headings.path, header=self.header_cells)
                if block:
                    self.blocks.append(block)
                self.rows = None
            elif kind == "inline":
                self.text_block("paragraph", _inline_text(tok))
            elif kind == "fence":
                self.text_block("code", _fence_text(tok))
            elif kind == "code_block":
                self.text_block("code", tok.content.rstrip("\n"))
            elif kind == "html_block":
                self.text_block("paragraph", " ".join(_TAG.sub(" ", tok.content).split()))
            i += 1


class MarkdownLoader:
    """``.md``/``.markdown`` files; the title is front matter ``title:``, else the first H1."""

    format = "markdown"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()
        self._md = MarkdownIt("commonmark").enable("table")

    def load(self, path: Path) -> list[Document]:
        """Parse ``path`` into heading, paragraph, list, code and table blocks."""
        data = path.read_bytes()
        text, title = split_front_matter(decode_file(path, data, self.options.source_for(path)))
        builder = _Builder()
        builder.feed(self._md.parse(text))
        return [
            file_document(
                path,
                self.options,
                data=data,
                fmt=self.format,
                blocks=builder.blocks,
                title=title or builder.first_h1,
            )
        ]
