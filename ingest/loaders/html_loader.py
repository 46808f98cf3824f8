"""HTML (bs4 + lxml): charset detection, hidden/boilerplate removal, headings, lists, tables."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from bs4 import BeautifulSoup, Comment, NavigableString, Tag, XMLParsedAsHTMLWarning

from core.types import Block, BlockKind, Document
from ingest.loaders.base import (
    HeadingStack,
    LoadOptions,
    clean_cell,
    file_document,
    meaningful_title,
    table_block,
)
from ingest.loaders.text_loader import decode_file

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_DROP = ("script", "style", "noscript", "template", "nav", "iframe", "svg", "button", "select", "head")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = {
    "p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "figure",
    "figcaption", "address", "center", "dl", "dt", "dd", "tr", "td", "th", "tbody", "thead", "tfoot",
    "caption", "form", "fieldset", "details", "summary", "body", "html", "hr", "table",
}  # fmt: skip
_OPENERS = {"$", "€", "£", "¥", "(", "$(", "($"}
_CLOSERS = {")", "%", ")%", "%)"}
_LINE_BREAK = "\u2028"  # stands for <br> until whitespace is collapsed
_BULLETS = {"•", "·", "◦", "▪", "■", "●", "○", "‣", "⁃", "-", "–", "—", "*"}


def declared_charset(data: bytes) -> str | None:
    """The charset a ``<meta>`` tag declares in the first 4 KiB, if any."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii", "replace") if match else None


def _is_hidden(tag: Tag) -> bool:
    if tag.attrs is None:
        return False
    return (
        tag.has_attr("hidden")
        or tag.get("aria-hidden") == "true"
        or bool(_HIDDEN_STYLE.search(str(tag.get("style") or "")))
        or tag.name == "ix:header"
    )


def _compact(row: list[str]) -> list[str]:
    """A row without spacer cells: ``$`` glued to the figure after it, ``)``/``%`` to the one before."""
    out: list[str] = []
    carry = ""
    for cell in row:
        if not cell:
            continue
        if cell in _OPENERS:
            carry += cell
            continue
        if cell in _CLOSERS and out:
            out[-1] += cell
            continue
        out.append(f"{carry}{cell}" if carry else cell)
        carry = ""
    if carry:
        out.append(carry)
    return out


def _own_rows(table: Tag) -> list[Tag]:
    """The ``tr`` elements of ``table`` itself, not of tables nested in it."""
    return [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]


def table_rows(table: Tag) -> list[list[str]]:
    """Cell texts per row; layouts with column spans (financial filings) lose their spacer cells."""
    rows: list[list[str]] = []
    spans = False
    for tr in _own_rows(table):
        row: list[str] = []
        for cell in tr.find_all(("td", "th"), recursive=False):
            row.append(clean_cell(cell.get_text(" ")))
            try:
                extra = min(int(str(cell.get("colspan") or 1)), 100) - 1
            except ValueError:
                extra = 0
            if extra > 0:
                spans = True
                row.extend([""] * extra)
        rows.append(row)
    if not spans:
        return rows
    compact = [_compact(r) for r in rows if any(r)]
    width = max((len(r) for r in compact), default=0)
    if compact and width > 2 and len(compact[0]) == width - 1:
        compact[0].insert(0, "")  # column headings over the figures, none over the row labels
    return compact


def _bullet_lines(rows: list[list[str]]) -> list[str] | None:
    """Rows like ``• | text`` (filings lay bullets out as tables) as list lines, else None."""
    lines: list[str] = []
    for row in rows:
        cells = [c for c in row if c]
        if not cells:
            continue
        if len(cells) != 2 or cells[0] not in _BULLETS:
            return None
        lines.append(f"- {cells[1]}")
    return lines or None


def _merge_lists(blocks: list[Block]) -> list[Block]:
    """Consecutive list blocks under the same headings as one list."""
    merged: list[Block] = []
    for block in blocks:
        prev = merged[-1] if merged else None
        if prev and block.kind == prev.kind == "list" and block.heading_path == prev.heading_path:
            merged[-1] = Block(
                kind="list", text=f"{prev.text}\n{block.text}", heading_path=block.heading_path
            )
        else:
            merged.append(block)
    return merged


def _is_layout(table: Tag, rows: list[list[str]]) -> bool:
    """Tables used for page layout: nested tables or headings inside, or never two cells a row."""
    if table.find(("table", *_HEADINGS)) is not None:
        return True
    return all(sum(1 for c in row if c) <= 1 for row in rows)


class _Walker:
    """Depth-first walk that turns the cleaned tree into blocks."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.headings = HeadingStack()
        self.buffer: list[str] = []
        self.first_h1: str | None = None

    def add(self, kind: BlockKind, text: str) -> None:
        if text.strip():
            self.blocks.append(Block(kind=kind, text=text, heading_path=self.headings.path))

    def flush(self) -> None:
        if not self.buffer:
            return
        raw = "".join(self.buffer)
        self.buffer = []
        lines = (" ".join(line.split()) for line in raw.split(_LINE_BREAK))
        self.add("paragraph", "\n".join(line for line in lines if line))

    def list_lines(self, lst: Tag, depth: int, out: list[str]) -> None:
        for li in lst.find_all("li", recursive=False):
            parts: list[str] = []
            nested: list[Tag] = []
            for child in li.children:
                if isinstance(child, Tag) and child.name in ("ul", "ol"):
                    nested.append(child)
                elif isinstance(child, Tag):
                    parts.append(child.get_text(" "))
                elif isinstance(child, NavigableString) and not isinstance(child, Comment):
                    parts.append(str(child))
            text = " ".join(" ".join(parts).split())
            if text:
                out.append(f"{'  ' * depth}- {text}")
            for sub in nested:
                self.list_lines(sub, depth + 1, out)

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not a comment, CDATA or doctype
                    self.buffer.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in _HEADINGS:
                self.flush()
                text = clean_cell(child.get_text(" "))
                if text:
                    self.blocks.append(self.headings.push(_HEADINGS[name], text))
                    if name == "h1" and self.first_h1 is None:
                        self.first_h1 = text
            elif name == "br":
                self.buffer.append(_LINE_BREAK)
            elif name == "pre":
                self.flush()
                self.add("code", child.get_text().strip("\n"))
            elif name in ("ul", "ol"):
                self.flush()
                lines: list[str] = []
                self.list_lines(child, 0, lines)
                self.add("list", "\n".join(lines))
            elif name == "table":
                self.flush()
                rows = table_rows(child)
                bullets = _bullet_lines(rows)
                if bullets:
                    self.add("list", "\n".join(bullets))
                elif _is_layout(child, rows):
                    self.walk(child)
                else:
                    block = table_block(rows, self.headings.path)
                    if block:
                        self.blocks.append(block)
            elif name in _BLOCKS:
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk(child)


def parse_html(text: str) -> tuple[list[Block], str | None]:
    """Blocks of an HTML string and its own title (``<title>``, else the first ``<h1>``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(text, "lxml")
    title_tag = soup.find("title")
    title = clean_cell(title_tag.get_text(" ")) if title_tag else None
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.find_all(_is_hidden):
        if not tag.decomposed:
            tag.decompose()
    walker = _Walker()
    walker.walk(soup.body or soup)
    walker.flush()
    return _merge_lists(walker.blocks), meaningful_title(title) or walker.first_h1


class HtmlLoader:
    """``.html``/``.htm`` files."""

    format = "html"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        """Decode (meta charset, then detection) and parse ``path``."""
        data = path.read_bytes()
        text = decode_file(path, data, self.options.source_for(path), declared_charset(data))
        blocks, title = parse_html(text)
        return [file_document(path, self.options, data=data, fmt=self.format, blocks=blocks, title=title)]
