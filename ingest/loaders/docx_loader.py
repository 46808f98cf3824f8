"""DOCX (python-docx): body XML walked in order: headings, paragraphs, lists, tables, headers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
from docx.oxml.ns import qn

from core.types import Block, Document
from ingest.loaders.base import HeadingStack, LoadOptions, clean_cell, file_document, table_block
from ingest.loaders.sniff import check_zip

_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_T, _TAB, _BR, _CR, _NBH = (qn(t) for t in ("w:t", "w:tab", "w:br", "w:cr", "w:noBreakHyphen"))
_P, _TBL, _TR, _TC, _SDT, _SDT_CONTENT, _CUSTOM_XML = (
    qn(t) for t in ("w:p", "w:tbl", "w:tr", "w:tc", "w:sdt", "w:sdtContent", "w:customXml")
)
_VAL = qn("w:val")
_SKIP = {
    _MC_FALLBACK,
    *(qn(t) for t in ("w:del", "w:pPr", "w:rPr", "w:instrText", "w:delText", "w:moveFrom")),
}
_HEADING_NAME = re.compile(r"^heading\s*(\d)$", re.I)


@dataclass
class _StyleInfo:
    """What a paragraph style says about structure: heading level (0 = Title) and list-ness."""

    level: int | None = None
    is_list: bool = False


@dataclass
class _Styles:
    """Paragraph style ids resolved once per document (following ``basedOn``)."""

    by_id: dict[str, _StyleInfo] = field(default_factory=dict)

    @classmethod
    def of(cls, document: Any) -> _Styles:
        raw: dict[str, tuple[str, str | None, int | None, bool]] = {}
        for style in document.styles.element.findall(qn("w:style")):
            sid = style.get(qn("w:styleId")) or ""
            name = style.find(qn("w:name"))
            based = style.find(qn("w:basedOn"))
            outline = style.find(f"{qn('w:pPr')}/{qn('w:outlineLvl')}")
            num = style.find(f"{qn('w:pPr')}/{qn('w:numPr')}")
            level = int(outline.get(_VAL, "9")) + 1 if outline is not None else None
            raw[sid] = (
                name.get(_VAL, "") if name is not None else "",
                based.get(_VAL) if based is not None else None,
                level if level is not None and level <= 9 else None,
                num is not None,
            )
        styles = cls()
        for sid in raw:
            styles.by_id[sid] = styles._resolve(sid, raw)
        return styles

    @staticmethod
    def _resolve(sid: str, raw: dict[str, tuple[str, str | None, int | None, bool]]) -> _StyleInfo:
        info = _StyleInfo()
        seen: set[str] = set()
        current: str | None = sid
        while current in raw and current not in seen:
            seen.add(current)
            name, based, outline, numbered = raw[current]
            match = _HEADING_NAME.match(name.strip())
            if info.level is None:
                if name.strip().casefold() == "title":
                    info.level = 0
                elif match:
                    info.level = int(match.group(1))
                elif outline is not None:
                    info.level = outline
            info.is_list = info.is_list or numbered or name.casefold().startswith("list")
            current = based
        return info


def _run_text(element: Any, out: list[str]) -> None:
    """Append the visible text under ``element``: runs, tabs, breaks; deletions skipped."""
    for child in element:
        tag = child.tag
        if tag == _T:
            out.append(child.text or "")
        elif tag == _TAB:
            out.append("\t")
        elif tag in (_BR, _CR):
            out.append("\n")
        elif tag == _NBH:
            out.append("-")
        elif isinstance(tag, str) and tag not in _SKIP:
            _run_text(child, out)


def paragraph_text(p: Any) -> str:
    """Text of a ``w:p`` element, whitespace tidied but line breaks kept."""
    out: list[str] = []
    _run_text(p, out)
    lines = (" ".join(line.split()) for line in "".join(out).split("\n"))
    return "\n".join(line for line in lines if line)


def _children(element: Any, tag: str) -> list[Any]:
    """Direct ``tag`` children, looking through content controls and custom XML wrappers."""
    found: list[Any] = []
    for child in element:
        if child.tag == tag:
            found.append(child)
        elif child.tag in (_SDT, _SDT_CONTENT, _CUSTOM_XML):
            found.extend(_children(child, tag))
    return found


def _cell_text(tc: Any) -> str:
    """A cell's paragraphs on one line; a nested table flattened as ``a, b; c, d``."""
    parts: list[str] = []
    for child in tc:
        if child.tag == _P:
            parts.append(paragraph_text(child))
        elif child.tag == _TBL:
            parts.append("; ".join(", ".join(c for c in row if c) for row in table_rows(child)))
        elif child.tag in (_SDT, _SDT_CONTENT, _CUSTOM_XML):
            parts.append(_cell_text(child))
    return clean_cell(" ".join(p for p in parts if p))


def _int_prop(element: Any, path: str, default: int) -> int:
    found = element.find(path)
    try:
        return int(found.get(_VAL)) if found is not None else default
    except (TypeError, ValueError):
        return default


def table_rows(tbl: Any) -> list[list[str]]:
    """Rows of a ``w:tbl``: a horizontal merge once per row, a vertical merge repeated per row."""
    rows: list[list[str]] = []
    above: dict[int, str] = {}  # grid column -> text of the vertical merge that started there
    for tr in _children(tbl, _TR):
        col = _int_prop(tr, f"{qn('w:trPr')}/{qn('w:gridBefore')}", 0)
        row = [""] * col
        for tc in _children(tr, _TC):
            span = max(1, _int_prop(tc, f"{qn('w:tcPr')}/{qn('w:gridSpan')}", 1))
            vmerge = tc.find(f"{qn('w:tcPr')}/{qn('w:vMerge')}")
            if vmerge is not None and vmerge.get(_VAL) != "restart":
                text = above.get(col, "")
            else:
                text = _cell_text(tc)
                if vmerge is not None:
                    above[col] = text
                else:
                    above.pop(col, None)
            row.append(text)
            row.extend([""] * (span - 1))
            col += span
        rows.append(row)
    return rows


def _is_header_row(tbl: Any) -> bool | None:
    """True when Word marks the first row as a repeating header; None when it does not say."""
    rows = _children(tbl, _TR)
    if rows and rows[0].find(f"{qn('w:trPr')}/{qn('w:tblHeader')}") is not None:
        return True
    return None


class _BodyWalker:
    """Turns body-level elements into blocks, in document order."""

    def __init__(self, styles: _Styles, root: tuple[str, ...] = ()) -> None:
        self.styles = styles
        self.headings = HeadingStack(root)
        self.blocks: list[Block] = []
        self.list_lines: list[str] = []
        self.first_title: str | None = None

    def flush_list(self) -> None:
        if self.list_lines:
            self.blocks.append(
                Block(kind="list", text="\n".join(self.list_lines), heading_path=self.headings.path)
            )
            self.list_lines = []

    def paragraph(self, p: Any) -> None:
        text = paragraph_text(p)
        if not text:
            return
        ppr = p.find(qn("w:pPr"))
        style = ppr.find(qn("w:pStyle")) if ppr is not None else None
        info = self.styles.by_id.get(style.get(_VAL, "") if style is not None else "", _StyleInfo())
        level = info.level
        if ppr is not None and ppr.find(qn("w:outlineLvl")) is not None:
            direct = _int_prop(ppr, qn("w:outlineLvl"), 9) + 1
            level = direct if direct <= 9 else None
        numbered = ppr is not None and _int_prop(ppr, f"{qn('w:numPr')}/{qn('w:numId')}", 0) > 0
        if level is not None and len(text) <= 300:
            self.flush_list()
            heading = " ".join(text.split())
            self.blocks.append(self.headings.push(level, heading))
            if level == 0 and self.first_title is None:
                self.first_title = heading
        elif numbered or info.is_list:
            depth = _int_prop(ppr, f"{qn('w:numPr')}/{qn('w:ilvl')}", 0) if ppr is not None else 0
            lines = text.split("\n")
            self.list_lines.append(f"{'  ' * depth}- {lines[0]}")
            self.list_lines.extend(f"{'  ' * depth}  {line}" for line in lines[1:])
        else:
            self.flush_list()
            self.blocks.append(Block(kind="paragraph", text=text, heading_path=self.headings.path))

    def walk(self, element: Any) -> None:
        for child in element:
            tag = child.tag
            if tag == _P:
                self.paragraph(child)
            elif tag == _TBL:
                self.flush_list()
                block = table_block(table_rows(child), self.headings.path, header=_is_header_row(child))
                if block:
                    self.blocks.append(block)
            elif tag in (_SDT, _SDT_CONTENT, _CUSTOM_XML):
                self.walk(child)
        self.flush_list()


def _header_footer_blocks(document: Any, styles: _Styles) -> tuple[list[Block], list[Block]]:
    """Distinct header and footer texts of all sections, each once."""
    found: dict[str, list[Block]] = {"Header": [], "Footer": []}
    seen: set[tuple[str, str]] = set()
    for section in document.sections:
        for kind, attrs in (
            ("Header", ("header", "first_page_header", "even_page_header")),
            ("Footer", ("footer", "first_page_footer", "even_page_footer")),
        ):
            for attr in attrs:
                part = getattr(section, attr)
                if part.is_linked_to_previous:
                    continue
                walker = _BodyWalker(styles)
                walker.walk(part._element)
                lines = (line for b in walker.blocks for line in b.text.split("\n"))
                text = "\n".join(line for line in lines if any(ch.isalnum() for ch in line))
                if text and (kind, text) not in seen:
                    seen.add((kind, text))
                    found[kind].append(Block(kind="paragraph", text=text, heading_path=(kind,)))
    return found["Header"], found["Footer"]


class DocxLoader:
    """``.docx`` files; the zip directory is checked for bombs before python-docx opens it."""

    format = "docx"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        """Walk the document body, then its headers and footers."""
        check_zip(path, self.options.source_for(path), self.options.max_expanded_bytes)
        data = path.read_bytes()
        document = docx.Document(str(path))
        styles = _Styles.of(document)
        walker = _BodyWalker(styles)
        walker.walk(document.element.body)
        headers, footers = _header_footer_blocks(document, styles)
        title = document.core_properties.title or walker.first_title
        blocks = [*headers, *walker.blocks, *footers]
        return [file_document(path, self.options, data=data, fmt=self.format, blocks=blocks, title=title)]
