"""CSV / TSV: encoding and delimiter sniffing, header detection, one table block per file."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from core.errors import CorruptFileError
from core.types import Document
from ingest.loaders.base import LoadOptions, file_document, looks_like_header, table_block
from ingest.loaders.text_loader import decode_file

_DELIMITERS = ",;\t|"
_SNIFF_LINES = 50
_SNIFF_CHARS = 64 * 1024

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long cells are data, not an attack


def _sample(text: str) -> str:
    """The first lines of ``text``, small enough for csv.Sniffer's regexes to stay fast."""
    lines = text.split("\n", _SNIFF_LINES)[:_SNIFF_LINES]
    return "\n".join(lines)[:_SNIFF_CHARS]


def _dialect(sample: str, default: str) -> type[csv.Dialect] | csv.Dialect:
    """Sniffed dialect of ``sample``; the default delimiter when sniffing fails."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        dialect = csv.excel_tab if default == "\t" else csv.excel
        return dialect


def _has_header(sample: str, rows: list[list[str]]) -> bool:
    """csv.Sniffer's verdict, checked against our own label-row heuristic."""
    try:
        sniffed = csv.Sniffer().has_header(sample)
    except csv.Error:
        sniffed = False
    return sniffed or looks_like_header(rows)


class CsvLoader:
    """``.csv``/``.tsv`` files as a single table block under the file stem."""

    format = "csv"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        """Parse ``path`` into one table."""
        data = path.read_bytes()
        source = self.options.source_for(path)
        text = decode_file(path, data, source)
        sample = _sample(text)
        dialect = _dialect(sample, "\t" if path.suffix.lower() == ".tsv" else ",")
        try:
            rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]
        except csv.Error as exc:
            raise CorruptFileError(source, f"malformed CSV: {exc}") from exc
        header = bool(rows) and _has_header(sample, rows[:50])
        block = table_block(rows, (path.stem,), header=header)
        blocks = [block] if block else []
        return [file_document(path, self.options, data=data, fmt=self.format, blocks=blocks)]
