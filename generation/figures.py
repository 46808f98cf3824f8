"""Is a quoted figure in the cited table where the sentence says it is? A figure found in a table
cell must sit in a column of the period the sentence names (year; quarter, six or nine months, full
year) and in a row the sentence names when it names one of the table's rows. "Q3 net sales were
$211,990 million" citing a table whose 211,990 is under "Nine Months Ended" fails; so does "data-center
revenue was 2,856" when 2,856 is Gaming's. Figures found only in prose are left to the exact-number rule.
"""

from __future__ import annotations

import re

from core.tables import LABEL_JOINER, TableCell, TableCells, table_of
from core.text_match import key_terms
from core.text_tokenize import tokenize
from core.types import Hit
from generation.numeric import duration_of as _duration
from generation.sentences import CITE, normalise_number, split_sentences
from retrieval.table_rows import label_match

# How filings state the span a figure covers ("During the nine months ended July 1, 2023, …").
_REPORTING_SPAN = re.compile(
    r"\b(?:three|six|nine|twelve|3|6|9|12)[\s-]+months?\s+ended\b|\b(?:quarter|fiscal\s+year)\s+ended\b", re.I
)
_YEAR = re.compile(r"(?<![\d$.,])((?:19|20)\d{2})(?![\d%])")
# A figure, not a name with digits ("10-Q", "8-K", "Q3", "H200").
_FIGURE = re.compile(r"(?<![\w.])[$€£¥]?\(?\d[\d,]*(?:\.\d+)?\)?%?(?![\w-])")


def _figures(sentence: str) -> set[str]:
    """The figures a sentence states, normalised, years left out (they name periods)."""
    bare = CITE.sub(" ", sentence)
    out = set()
    for token in _FIGURE.findall(bare):
        if _YEAR.fullmatch(token):
            continue
        value = normalise_number(token.strip("()"))
        out.add(value.rstrip("0").rstrip(".") if "." in value else value)
    return {v for v in out if v.strip("-")}


def _cell_figure(cell: TableCell) -> str:
    value = normalise_number(cell.text.strip().strip("()").replace("$", "").strip())
    return value.rstrip("0").rstrip(".") if "." in value else value


def _terms(text: str) -> set[str]:
    return {t for t in tokenize(text) if len(t) > 2 and not t.isdigit()}


def _period_fits(column: str, years: set[str], duration: int | None) -> bool:
    column_years = set(_YEAR.findall(column))
    if years and column_years and not years & column_years:
        return False
    column_duration = _duration(column)
    return duration is None or column_duration is None or column_duration == duration


def _row_fits(cells: list[TableCell], table: TableCells, said: set[str]) -> tuple[bool, str]:
    """(fits, another row the sentence names instead) for the cells holding a figure."""
    if any(_terms(c.row) & said for c in cells):
        return True, ""
    columns = {c.column for c in cells}
    for other in table.cells:
        terms = _terms(other.row)
        if other.column in columns and terms and terms <= said and other.row not in {c.row for c in cells}:
            return False, other.row
    return True, ""


def misplaced_figures(sentence: str, hits: list[Hit], question: str = "") -> str:
    """Why a figure of ``sentence`` is not where the sentence puts it in the cited tables (or, for a
    figure in prose, not of the period asked), or ""."""
    figures = _figures(sentence)
    if not figures:
        return ""
    prose = _prose_period(sentence, figures, hits, question)
    if prose:
        return prose
    tables = [t for t in (table_of(h) for h in hits) if t is not None]
    if not tables:
        return ""
    bare = CITE.sub(" ", sentence)
    years, duration, said = set(_YEAR.findall(bare)), _duration(bare), _terms(bare)
    for figure in sorted(figures):
        placed = [(c, t) for t in tables for c in t.cells if _cell_figure(c) == figure]
        if not placed:
            continue  # a figure from the prose: the exact-number rule covers it
        why = ""
        for table in {id(t): t for _, t in placed}.values():
            cells = [c for c, t in placed if t is table]
            if (years or duration) and not any(_period_fits(c.column, years, duration) for c in cells):
                where = cells[0].column
                why = why or f"{figure} is the figure for {where!r} in the cited table, not the period named"
                continue
            fits, other = _row_fits(cells, table, said)
            if fits:
                break
            why = why or f"{figure} is {cells[0].row!r} in the cited table, not {other!r}"
        else:
            if why:
                return why
    return ""


def reporting_span(unit: str) -> int | None:
    """The months a passage sentence states its figures for ("During the nine months ended July 1,
    2023, the Company repurchased … $56.1 billion" → 9); None when it states no figure or no span."""
    if LABEL_JOINER in unit or not _figures(unit) or not _REPORTING_SPAN.search(unit):
        return None
    return _duration(unit)


def _prose_period(sentence: str, figures: set[str], hits: list[Hit], question: str) -> str:
    """A figure stated without its period, whose cited passage sentence gives it for another span
    than the question asks ("$56.1 billion" for "Q3" from "During the nine months ended …")."""
    bare = CITE.sub(" ", sentence)
    if _duration(bare) is not None or not question:
        return ""
    asked = _duration(question)
    if asked is None:
        return ""
    for hit in hits:
        for unit in split_sentences(hit.text):  # table rows have no reporting span: the column check
            stated = _figures(unit) & figures
            span = reporting_span(unit) if stated else None
            if span is not None and span != asked:
                return (
                    f"{min(stated)} is a {span}-month figure in the cited source; the question asks "
                    f"about {asked} months"
                )
    return ""


def figures_from_named_rows(sentence: str, hits: list[Hit], asked: set[str]) -> bool:
    """The sentence states figures, and each is a cell of a cited table whose row the sentence or the
    question (``asked``: its key terms) names: "$36,413 million [1]" answering "What was the gross
    margin?" from the row "Total gross margin". (Whether the column is the period the sentence names
    is ``misplaced_figures``' check.)"""
    figures = _figures(sentence)
    tables = [t for t in (table_of(h) for h in hits) if t is not None]
    if not figures or not tables:
        return False
    terms = frozenset(key_terms(CITE.sub(" ", sentence)) | asked)
    return all(
        any(_cell_figure(c) == figure and label_match(terms, c.row) for t in tables for c in t.cells)
        for figure in figures
    )


def table_scales(hits: list[Hit]) -> list[str]:
    """The scales ("million", "thousand") the passages' tables state."""
    return [t.scale for t in (table_of(h) for h in hits) if t is not None and t.scale]
