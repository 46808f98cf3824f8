"""Loaders: every messy real-world file has an asserted outcome, PDF page numbers match the Contoso
ground truth, and synthetic bad inputs fail with the right LoaderError and an actionable reason."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    FileTooLargeError,
    LoaderError,
    NeedsOCRError,
    UnsupportedFormatError,
)
from core.types import Block, Document, sha256_hex
from ingest import loaders
from ingest.loaders import LOADERS, SUPPORTED_EXTENSIONS, Loader, LoadOptions, load_path
from ingest.loaders.text_loader import decode_text

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
MESSY = DATASETS / "messy_docs_unstructured"
CONTOSO = DATASETS / "contoso_hr_benefits"
needs_datasets = pytest.mark.skipif(not DATASETS.is_dir(), reason=f"shared datasets not found at {DATASETS}")


# ---------------------------------------------------------------- helpers


def tables(doc: Document) -> list[Block]:
    return [b for b in doc.blocks if b.kind == "table"]


def has_row(doc: Document, *cells: str) -> bool:
    """Some table has a row that starts with ``cells``."""
    return any(row[: len(cells)] == cells for t in tables(doc) for row in t.rows)


def page_text(doc: Document, page: int) -> str:
    return norm(" ".join(b.text for b in doc.blocks if b.page == page))


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w$%-]+", " ", text.casefold()).split())


def check_invariants(doc: Document, path: Path) -> None:
    """What every loaded document promises, whatever its format."""
    assert doc.blocks and all(b.text.strip() for b in doc.blocks)
    assert doc.title.strip()
    for block in doc.blocks:
        if block.kind == "table":
            assert block.rows and all("\n" not in c for row in block.rows for c in row)
            assert len([ln for ln in block.text.split("\n") if ln.strip()]) == len(block.rows)
        if doc.format == "pdf":
            assert doc.page_count and 1 <= (block.page or 0) <= doc.page_count
        else:
            assert block.page is None
    if doc.format != "jsonl":
        assert doc.content_hash == sha256_hex(path.read_bytes())


# ---------------------------------------------------------------- messy_docs_unstructured


def _xlsx_segments(doc: Document) -> bool:
    assert has_row(doc, "Zone NA", "12553", "2713", "2632")
    assert has_row(doc, "Total", "46293", "7904", "7351")  # SUM() formulas read as their cached values
    assert any(
        t.heading_path == ("OS-Rev.and results 30 06 2023", "Revenue and results") for t in tables(doc)
    )
    return "(a) Inter-segment sales are not significant." in doc.text  # footnotes kept as text


def _codeblock(doc: Document) -> bool:
    code = [b for b in doc.blocks if b.kind == "code"]
    assert len(code) == 3
    assert code[0].text.startswith("```html\n<!DOCTYPE html>") and code[0].text.endswith("</html>\n```")
    return code[1].heading_path == ("XML Example",) and "<to>Tove</to>" in code[1].text


def _docx_tables(doc: Document) -> bool:
    rows = [t.rows for t in tables(doc)]
    assert rows[0] == (("Header Col 1", "Header Col 2"), ("Lorem ipsum", "A link example"))
    nested = rows[1][1]
    assert nested[0] == "d" and nested[2] == "i" and "g&t" in nested[1]  # nested table flattened in its cell
    return rows[2][0] == ("a", "b", "")  # merged cell "b" once, not repeated across its span


def _incomplete_rows(doc: Document) -> bool:
    rows = [t.rows for t in tables(doc)]
    assert len(rows) == 6
    assert rows[1] == (("a", ""), ("b", "c"))  # ragged rows padded
    return rows[2] == (("a", "", ""), ("b", "c", "d"))


def _handbook_872p(doc: Document) -> bool:
    chapter = "CHAPTER 3 - ADMINISTRATION OF CHAPTER 13 CASES"
    assert any(b.heading_path[:1] == (chapter,) and b.kind == "paragraph" for b in doc.blocks)
    assert any(b.kind == "heading" and b.text == "B. MEETING OF CREDITORS" for b in doc.blocks)
    assert any(b.kind == "list" for b in doc.blocks) and len(tables(doc)) == 2
    footers = {b.text for b in doc.blocks if b.heading_path == ("Footer",)}
    return "Handbook for Chapter 13 Standing Trustees Page 1-\nEffective October 1, 2012" in footers


def _xlsx_subtables(doc: Document) -> bool:
    found = tables(doc)
    assert len(found) >= 10 and found[0].rows == (("a", "b"), ("c", "d"))
    assert all(t.heading_path[0] == "Sheet1" for t in found)
    return found[0].heading_path == ("Sheet1", "Table 1") and found[1].heading_path == ("Sheet1", "a")


# file name -> a content check on the (first) loaded document, or (expected error, reason fragment)
EXPECTED: dict[str, Callable[[Document], bool] | tuple[type[LoaderError], str]] = {
    "2023-half-year-analyses-by-segment.xlsx": _xlsx_segments,
    "all-number-table.pdf": lambda d: has_row(d, "1400.01", "13") and all(b.page == 1 for b in d.blocks),
    "chevron-page.pdf": lambda d: "Tamar and Leviathan fields" in d.text,
    "codeblock.md": _codeblock,
    "copy-protected.pdf": lambda d: d.page_count == 2 and "layout detection" in page_text(d, 2),
    "csv-with-long-lines.csv": lambda d: (
        len(tables(d)) == 1
        and len(tables(d)[0].rows) == 11
        and tables(d)[0].header
        and tables(d)[0].rows[0][0] == "SpearmanCorrelationCoefficient"
    ),
    "docx-hdrftr.docx": lambda d: (
        [b.heading_path for b in d.blocks] == [("Header",), (), ("Footer",)]
        and "First header para" in d.blocks[0].text
        and "para2" in d.blocks[-1].text
    ),
    "docx-tables.docx": _docx_tables,
    "embedded-images-tables.pdf": lambda d: (
        d.title.startswith("Data on environmental sustainable corrosion inhibitor")
        and has_row(d, "4", "0.0163", "0.2369")
    ),
    "example-10k-1p.html": lambda d: has_row(d, "Common stock", "GLXZ", "OTCQB marketplace"),
    "example-10k.html": lambda d: (
        has_row(d, "Total accrued expenses", "$2,666,073", "$1,333,032")
        and len(tables(d)) > 50
        and "--12-31" not in d.text  # the hidden inline-XBRL header is dropped
    ),
    "example-steelJIS-datasheet.html": lambda d: (
        any(t.header and t.rows[0][:3] == ("C", "Si", "Mn") for t in tables(d))
        and any("SNB22-3 Chemical composition, standards and properties" in b.heading_path for b in d.blocks)
        and "adsbygoogle" not in d.text
    ),
    "fake-html-cp1252.html": lambda d: (
        all(w in d.text for w in ("très chaud", "köstlich", "15,50 €", "João"))
        and d.title == "My First Heading"
    ),
    "fake_table.docx": lambda d: (
        tables(d)[0].header and tables(d)[0].rows[0] == ("Header Col 1", "Header Col 2")
    ),
    "handbook-1p.docx": lambda d: (
        d.blocks[0].heading_path == ("Header",)
        and d.blocks[0].text == "US Trustee Handbook"
        and "fiduciary responsibility" in d.text
    ),
    "handbook-872p.docx": _handbook_872p,
    "interface-config-guide-p93.pdf": lambda d: (
        d.title == "Interface Configuration Guide"
        and "pxc 1 create\nport 1/x1/1/c1/1\nno shutdown" in d.text  # line layout kept
    ),
    "multi-column-2p.pdf": lambda d: (
        "efficient passage retrieval" in page_text(d, 1)  # pdfium's soft hyphen joined
        and "dense passage retriever dpr" in page_text(d, 2)
    ),
    "pdf-with-ocr-text.pdf": lambda d: "industrydocuments.ucsf.edu" in d.text,
    "reliance.pdf": lambda d: d.page_count == 3 and "fortune 500 company" in page_text(d, 2),
    "semicolon-delimited.csv": lambda d: (
        tables(d)[0].rows[0] == ("Lorem, ipsum", "dolor sit", "amet")
        and tables(d)[0].heading_path == ("semicolon-delimited",)
    ),
    "simple-table.md": lambda d: tables(d)[0].header and has_row(d, "Bananas", "1.89", "6"),
    "table-multi-row-column-cells-actual.csv": lambda d: has_row(d, "Blind", "5", "1", "4", "34.5%, n=1"),
    "table-multi-row-column-cells.pdf": (NeedsOCRError, "needs OCR"),
    "tables-with-incomplete-rows.docx": _incomplete_rows,
    "umlauts-non-utf8.md": lambda d: (
        d.blocks[0].kind == "heading"
        and d.blocks[0].text == "können"
        and d.blocks[2].heading_path == ("können",)
        and d.blocks[2].text == "äöüß"
    ),
    "vodafone.xlsx": lambda d: (
        any(t.heading_path == ("Index", "Financial performance") for t in tables(d))
        and has_row(d, "Quarterly revenue", "Nine quarters to 30 June 2023")
    ),
    "xlsx-subtable-cases.xlsx": _xlsx_subtables,
}


def _messy_files() -> list[str]:
    if not MESSY.is_dir():
        return []
    skip = ("MANIFEST.txt", "LICENSE")
    return sorted(p.name for p in MESSY.iterdir() if p.is_file() and not p.name.startswith(skip))


@needs_datasets
@pytest.mark.parametrize("name", _messy_files())
def test_messy_file_outcome(name: str) -> None:
    expectation = EXPECTED.get(name)
    if expectation is None:
        pytest.fail(f"{name}: new file without an expected outcome; add one to EXPECTED")
    path = MESSY / name
    if isinstance(expectation, tuple):
        error, fragment = expectation
        with pytest.raises(error) as caught:
            load_path(path)
        assert fragment.casefold() in caught.value.reason.casefold()
        return
    docs = load_path(path)
    assert len(docs) == 1 and docs[0].source == name
    check_invariants(docs[0], path)
    assert expectation(docs[0]), f"{name}: expected content feature missing"


@needs_datasets
def test_every_expectation_names_a_real_file() -> None:
    assert sorted(EXPECTED) == _messy_files()


# ---------------------------------------------------------------- Contoso page numbers and real PDFs

# (file, page, phrase from the ground-truth answer that cites that page)
PAGE_CASES = [
    (
        "Northwind_Standard_Benefits_Details.pdf",
        8,
        "providers may also offer additional services or discounts",
    ),
    ("Northwind_Standard_Benefits_Details.pdf", 24, "the northwind standard plan does not cover travel"),
    (
        "Northwind_Standard_Benefits_Details.pdf",
        29,
        "coverage through northwind standard for gender affirming care",
    ),
    (
        "Northwind_Health_Plus_Benefits_Details.pdf",
        4,
        "in-network providers charge lower rates than out-of-network",
    ),
    ("role_library.pdf", 19, "in developing and executing digital and traditional marketing"),
    ("PerksPlus.pdf", 3, "perksplus covers a wide range of fitness activities"),
    ("employee_handbook.pdf", 6, "of workplace violence they should immediately notify their"),
]


@pytest.fixture(scope="module")
def contoso_docs() -> dict[str, Document]:
    if not (CONTOSO / "docs").is_dir():
        pytest.skip(f"Contoso dataset not found at {CONTOSO}")
    return {name: load_path(CONTOSO / "docs" / name)[0] for name in {case[0] for case in PAGE_CASES}}


@needs_datasets
@pytest.mark.parametrize(("name", "page", "phrase"), PAGE_CASES)
def test_contoso_cited_page_holds_answer(
    contoso_docs: dict[str, Document], name: str, page: int, phrase: str
) -> None:
    truths = [json.loads(line)["truth"] for line in (CONTOSO / "ground_truth.jsonl").open()]
    cited = [t for t in truths if f"[{name}#page={page}]" in t and phrase in norm(t)]
    assert cited, "the phrase is not from a ground-truth answer citing this page"
    doc = contoso_docs[name]
    assert phrase in page_text(doc, page)
    assert all(phrase not in page_text(doc, other) for other in (page - 1, page + 1))
    check_invariants(doc, CONTOSO / "docs" / name)


@needs_datasets
def test_sec_10q_pdfs_open_with_tables_and_outline() -> None:
    docs = DATASETS / "docugami_sec10q" / "docs"
    if not docs.is_dir():
        pytest.skip(f"{docs} not found")
    msft = load_path(docs / "2023 Q1 MSFT.pdf")[0]  # pypdf gives up on this one (LimitReachedError)
    assert msft.page_count == 72 and "securities and exchange commission" in page_text(msft, 1)
    assert has_row(msft, "Total current assets", "157,823", "169,684")
    intc = load_path(docs / "2023 Q1 INTC.pdf")[0]  # bookmarks become the heading path
    income = [b for b in intc.blocks if b.text == "Consolidated Condensed Statements of Income"]
    assert income[0].page == 6 and income[0].heading_path == ("Financial Statements", "Statement of Income")


@needs_datasets
def test_pypdf_fallback_reads_aes_pdf_with_empty_password(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes, source: str) -> None:
        raise RuntimeError("pdfium unavailable")

    monkeypatch.setattr("ingest.loaders.pdf_loader._parse_pdfium", broken)
    doc = load_path(MESSY / "copy-protected.pdf")[0]
    assert doc.page_count == 2 and "layoutparser" in page_text(doc, 1)


@needs_datasets
def test_contoso_json_and_markdown() -> None:
    record = load_path(CONTOSO / "docs" / "Json_Examples" / "2189.json")[0]
    assert record.title == "As a customer, I would like to reserve a conference room"
    assert "AreaPath: SmartHotel360" in record.text and "AssignedTo" not in record.text  # nulls dropped
    records = load_path(CONTOSO / "docs" / "Json_Examples" / "query.json")[0]
    assert records.blocks[0].heading_path == ("[0]",)
    assert "fields.System.Id: 2348" in records.blocks[0].text
    overview = load_path(CONTOSO / "docs" / "Zava_Company_Overview.md")[0]
    assert overview.title == "Zava"
    assert any(t.heading_path == ("Zava", "History") and t.header for t in tables(overview))


# ---------------------------------------------------------------- synthetic bad inputs


def _reason(
    error: type[LoaderError], path: Path, max_bytes: int = 2**30, max_expanded_bytes: int = 500 * 2**20
) -> str:
    with pytest.raises(error) as caught:
        load_path(path, max_bytes=max_bytes, max_expanded_bytes=max_expanded_bytes)
    assert path.name in str(caught.value)  # str() names the file
    return caught.value.reason


def _pdf_bytes(text: str = "Hello PDF world") -> bytes:
    """A minimal one-page PDF with a real text layer, xref offsets computed by hand."""
    content = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Resources << /Font << /F1 4 0 R >> >>"
        b" /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_empty_and_blank_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert "empty" in _reason(EmptyFileError, empty)
    blank = tmp_path / "blank.md"
    blank.write_text("\n\n   \n")
    assert "no text" in _reason(EmptyFileError, blank)


def test_pdf_that_is_really_text_or_html(tmp_path: Path) -> None:
    text = tmp_path / "broken.pdf"
    text.write_bytes(b"this is not a pdf at all")
    reason = _reason(CorruptFileError, text)
    assert "not a PDF" in reason and "plain text" in reason
    html = tmp_path / "page.pdf"
    html.write_bytes(b"<!DOCTYPE html><html><body><p>saved web page</p></body></html>")
    assert "HTML" in _reason(CorruptFileError, html)


def test_damaged_pdf(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(_pdf_bytes()[:200])
    assert "damaged PDF" in _reason(CorruptFileError, damaged)


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    fake = tmp_path / "report.docx"
    fake.write_bytes(b"Just some text typed into a file named .docx\n")
    assert "not a Word (.docx) document" in _reason(CorruptFileError, fake)
    legacy = tmp_path / "old.docx"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    # read as the .doc it is: LibreOffice fails on these bytes, or is missing and named
    assert "legacy" in _reason(LoaderError, legacy)
    locked = tmp_path / "locked.docx"  # Office wraps a password-protected .docx in an OLE2 container
    locked.write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600 + "EncryptedPackage".encode("utf-16-le")
    )
    assert "password" in _reason(EncryptedFileError, locked)


def test_zip_bomb_docx_is_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = tmp_path / "bomb.docx"
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(600):  # 600 MiB of zeros, ~3 MB on disk
                member.write(zeros)
    assert bomb.stat().st_size < 5 * 2**20

    def must_not_parse(*args: object) -> None:
        raise AssertionError("python-docx was called on a zip bomb")

    monkeypatch.setattr("ingest.loaders.docx_loader.docx.Document", must_not_parse)
    assert "zip bomb" in _reason(FileTooLargeError, bomb)
    # the compression ratio alone gives it away when the total stays under the limit
    assert "compresses" in _reason(FileTooLargeError, bomb, max_expanded_bytes=2**40)


def test_unknown_extension_lists_supported_ones(tmp_path: Path) -> None:
    odd = tmp_path / "notes.xyz"
    odd.write_text("some notes")
    reason = _reason(UnsupportedFormatError, odd)
    assert ".xyz" in reason and ".pdf" in reason and ".docx" in reason
    animation = tmp_path / "anim.gif"
    animation.write_bytes(b"GIF89a" + b"\0" * 64)
    assert "GIF image" in _reason(UnsupportedFormatError, animation)
    image = tmp_path / "scan.png"  # a supported image, but OCR is off for this load
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    assert "OCR is turned off" in _reason(NeedsOCRError, image)


def test_password_protected_pdf(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf_bytes())))
    writer.encrypt("secret")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    reason = _reason(EncryptedFileError, locked)
    assert "password" in reason and "re-upload" in reason


def test_oversized_file(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    assert "limit" in _reason(FileTooLargeError, big, max_bytes=1024)
    assert load_path(big, max_bytes=10_000)[0].blocks


def test_parser_crash_is_wrapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Exploding:
        format = "txt"

        def __init__(self, options: LoadOptions) -> None:
            pass

        def load(self, path: Path) -> list[Document]:
            raise KeyError("boom inside the parser")

    monkeypatch.setitem(LOADERS, ".txt", Exploding)
    file = tmp_path / "a.txt"
    file.write_text("hello")
    reason = _reason(CorruptFileError, file)
    assert "KeyError" in reason and "boom inside the parser" in reason


# ---------------------------------------------------------------- routing and formats


def test_mislabelled_binary_files_are_routed_by_content(tmp_path: Path) -> None:
    pdf_as_txt = tmp_path / "actually-a-pdf.txt"
    pdf_as_txt.write_bytes(_pdf_bytes("Routed by magic bytes"))
    doc = load_path(pdf_as_txt)[0]
    assert doc.format == "pdf" and "Routed by magic bytes" in doc.text and doc.blocks[0].page == 1
    docx_as_pdf = tmp_path / "memo.pdf"
    _make_docx(docx_as_pdf)
    assert load_path(docx_as_pdf)[0].format == "docx"


def test_loader_protocol_conformance(tmp_path: Path) -> None:
    sample = tmp_path / "sample.txt"
    sample.write_text("Conformance text.\n")
    assert {
        ".pdf",
        ".docx",
        ".xlsx",
        ".html",
        ".md",
        ".txt",
        ".csv",
        ".json",
        ".jsonl",
    } <= SUPPORTED_EXTENSIONS
    for ext, factory in LOADERS.items():
        loader = factory(LoadOptions(source="x"))
        assert isinstance(loader, Loader), ext
        assert isinstance(loader.format, str) and loader.format
    assert loaders.loader_for(sample).load(sample)[0].text == "Conformance text."


def _make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Returns Handbook"
    document.add_paragraph("Returns Handbook", style="Title")
    document.add_heading("Refunds", level=1)
    document.add_paragraph("Refunds are issued within 14 days.")
    document.add_paragraph("Keep the receipt", style="List Bullet")
    document.add_paragraph("Pack the item", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "Item", (0, 1): "Days", (1, 0): "Shoes", (1, 1): "60"}.items():
        table.cell(r, c).text = text
    document.add_heading("Exchanges", level=2)
    document.add_paragraph("Exchanges are free.")
    document.sections[0].footer.paragraphs[0].text = "Confidential"
    document.save(str(path))


def test_docx_structure_in_body_order(tmp_path: Path) -> None:
    path = tmp_path / "handbook.docx"
    _make_docx(path)
    doc = load_path(path)[0]
    assert doc.title == "Returns Handbook"
    kinds = [(b.kind, b.heading_path) for b in doc.blocks]
    assert kinds == [
        ("heading", ()),
        ("heading", ("Returns Handbook",)),
        ("paragraph", ("Returns Handbook", "Refunds")),
        ("list", ("Returns Handbook", "Refunds")),
        ("table", ("Returns Handbook", "Refunds")),
        ("heading", ("Returns Handbook", "Refunds")),
        ("paragraph", ("Returns Handbook", "Refunds", "Exchanges")),
        ("paragraph", ("Footer",)),
    ]
    assert doc.blocks[3].text == "- Keep the receipt\n- Pack the item"
    table = tables(doc)[0]
    assert table.rows == (("Item", "Days"), ("Shoes", "60")) and table.header
    assert table.text == "Item | Days\nShoes | 60"


def test_xlsx_tables_titles_and_empty_sheets(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Prices"
    for row in (
        ["Price list 2024"],
        ["Item", "Price"],
        ["Shoes", 59.0],
        ["Socks", 4.5],
        [],
        [],
        ["SKU", "Stock"],
    ):
        sheet.append(row)
    sheet.append(["A1", 3])
    workbook.create_sheet("Empty")
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    doc = load_path(path)[0]
    found = tables(doc)
    assert [t.heading_path for t in found] == [("Prices", "Price list 2024"), ("Prices", "Table 2")]
    assert found[0].rows == (("Item", "Price"), ("Shoes", "59"), ("Socks", "4.5")) and found[0].header
    assert all(b.heading_path[0] != "Empty" for b in doc.blocks)


def test_html_structure_and_cleanup(tmp_path: Path) -> None:
    html = (
        "<html><head><meta charset='windows-1252'><title>Shipping FAQ</title><script>var x=1;</script>"
        "</head><body><nav>Home | About</nav><h1>Shipping</h1><p>We ship in 2 days.</p>"
        "<div style='display: none'>secret</div><h2>Costs</h2><ul><li>Free over 50 €</li>"
        "<li>Else 5 €<ul><li>Express 10 €</li></ul></li></ul>"
        "<table><tr><th>Zone</th><th>Days</th></tr><tr><td>EU</td><td>3</td></tr></table></body></html>"
    )
    path = tmp_path / "faq.html"
    path.write_bytes(html.encode("cp1252"))
    doc = load_path(path)[0]
    assert doc.title == "Shipping FAQ"
    assert "secret" not in doc.text and "Home" not in doc.text and "var x" not in doc.text
    lists = [b for b in doc.blocks if b.kind == "list"]
    assert lists[0].text == "- Free over 50 €\n- Else 5 €\n  - Express 10 €"
    assert lists[0].heading_path == ("Shipping", "Costs")
    assert tables(doc)[0].rows == (("Zone", "Days"), ("EU", "3")) and tables(doc)[0].header


def test_markdown_front_matter_lists_and_code(tmp_path: Path) -> None:
    text = (
        "---\ntitle: Deploy Guide\n---\n# Deploy\n\nSteps:\n\n1. Build\n2. Ship\n   - carefully\n\n"
        "```bash\nmake deploy\n\n# done\n```\n"
    )
    path = tmp_path / "deploy.md"
    path.write_text(text)
    doc = load_path(path)[0]
    assert doc.title == "Deploy Guide"
    lists = [b for b in doc.blocks if b.kind == "list"]
    assert lists[0].text == "1. Build\n2. Ship\n  - carefully"
    code = [b for b in doc.blocks if b.kind == "code"][0]
    assert code.text == "```bash\nmake deploy\n\n# done\n```" and code.heading_path == ("Deploy",)


def test_text_encoding_detection() -> None:
    assert decode_text("## können\n\nkönnen\n\näöüß\n".encode("latin-1")).startswith("## können")
    assert decode_text("Grüße €".encode("cp1252")) == "Grüße €"
    assert decode_text("\ufeffBOM text".encode()) == "BOM text"
    assert decode_text("utf-16 text".encode("utf-16")) == "utf-16 text"


def test_txt_paragraphs_and_binary_txt(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("First line\nsecond line\n\n\nNext paragraph\r\n")
    assert [b.text for b in load_path(path)[0].blocks] == ["First line\nsecond line", "Next paragraph"]
    binary = tmp_path / "data.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    assert "binary" in _reason(CorruptFileError, binary)


def test_json_flattening(tmp_path: Path) -> None:
    data = {
        "name": "Acme",
        "active": True,
        "address": {"city": "Oslo", "zip": "0150"},
        "staff": [{"id": 1}, {"id": 2}],
    }
    path = tmp_path / "company.json"
    path.write_text(json.dumps(data))
    doc = load_path(path)[0]
    assert doc.title == "Acme"
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        ((), "name: Acme\nactive: true"),
        (("address",), "address.city: Oslo\naddress.zip: 0150"),
        (("staff", "[0]"), "id: 1"),
        (("staff", "[1]"), "id: 2"),
    ]
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n "b": }')
    assert "line 2" in _reason(CorruptFileError, bad)


def test_corpus_jsonl_records_become_documents(tmp_path: Path) -> None:
    records = [
        {
            "_id": "d1",
            "title": "Returns",
            "text": "Items can be returned.\n\nWithin 30 days.",
            "metadata": {"lang": "en"},
        },
        {"_id": "d2", "title": "", "text": "No title here."},
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    docs = load_path(path, source="kb/corpus.jsonl")
    assert [(d.external_id, d.source, d.title) for d in docs] == [
        ("d1", "kb/corpus.jsonl#d1", "Returns"),
        ("d2", "kb/corpus.jsonl#d2", "d2"),
    ]
    assert docs[0].metadata == {"lang": "en"} and [b.text for b in docs[0].blocks] == [
        "Items can be returned.",
        "Within 30 days.",
    ]
    canonical = json.dumps(records[0], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert docs[0].content_hash == sha256_hex(canonical)
    plain = tmp_path / "events.jsonl"
    plain.write_text('{"event": "login", "user": "ann"}\n{"event": "logout"}\n')
    (doc,) = load_path(plain)
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        (("[0]",), "event: login\nuser: ann"),
        (("[1]",), "event: logout"),
    ]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"_id": "a", "text": "x"}\n{oops\n')
    assert "line 2" in _reason(CorruptFileError, broken)


def test_tsv_and_default_source(tmp_path: Path) -> None:
    path = tmp_path / "stock.tsv"
    path.write_text("sku\tcount\nA1\t3\nB2\t5\n")
    (doc,) = load_path(path)
    assert doc.source == "stock.tsv" and doc.title == "stock"
    assert tables(doc)[0].rows == (("sku", "count"), ("A1", "3"), ("B2", "5")) and tables(doc)[0].header
