"""PowerPoint, e-mail and legacy Office files, each written by a real library inside the test:
python-pptx decks (title, bullets, table, chart, picture, notes), e-mails with HTML bodies and
attachments, LibreOffice conversions (skipped with the reason when it is not installed), and the
bad inputs users send: a password-protected deck, a corrupt e-mail, a missing converter."""

from __future__ import annotations

import io
import subprocess
from email.message import EmailMessage
from pathlib import Path

import docx
import openpyxl
import pytest
from PIL import Image
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE
from pptx.util import Inches

from core.errors import CorruptFileError, EncryptedFileError, UnsupportedFormatError
from core.types import Block, Document
from ingest.loaders import load_path, office_loader
from ingest.ocr import OcrLine
from tests.ingest.test_loaders import _pdf_bytes

# ---------------------------------------------------------------- PowerPoint


class FakeEngine:
    name = "fake"

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        return [
            OcrLine("Revenue grew 12% in Q3", 0.87, 10, 10, 300, 40),
            OcrLine("Source: finance team", 0.93, 10, 45, 300, 75),
        ]


def _deck(path: Path, picture: bool = False) -> Path:
    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "Return policy"
    body = first.placeholders[1].text_frame
    body.text = "Unopened items: 60 days"
    bullet = body.add_paragraph()
    bullet.text, bullet.level = "Opened headphones: exchange only", 1
    first.notes_slide.notes_text_frame.text = "Mention the holiday extension to 31 January."

    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Shipping fees"
    rows = [("Region", "Standard", "Express"), ("Europe", "$5", "$15"), ("Asia", "$9", "$25")]
    table = second.shapes.add_table(3, 3, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text

    third = deck.slides.add_slide(deck.slide_layouts[5])
    third.shapes.title.text = "Returns by quarter"
    data = CategoryChartData()
    data.categories = ["Q1", "Q2"]
    data.add_series("Returns", (120, 95))
    data.add_series("Exchanges", (40, 52))
    chart = third.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(2), Inches(6), Inches(4), data
    ).chart
    chart.has_title = True
    chart.chart_title.text_frame.text = "Returns and exchanges"

    if picture:
        fourth = deck.slides.add_slide(deck.slide_layouts[6])  # blank: a chart pasted as an image
        image = io.BytesIO()
        Image.new("RGB", (800, 500), "white").save(image, format="PNG")
        image.seek(0)
        fourth.shapes.add_picture(image, Inches(1), Inches(1), Inches(6), Inches(4))
    deck.core_properties.title = "Support handbook"
    deck.save(str(path))
    return path


def _by_slide(doc: Document) -> dict[int, list[Block]]:
    slides: dict[int, list[Block]] = {}
    for block in doc.blocks:
        slides.setdefault(block.page or 0, []).append(block)
    return slides


def test_pptx_slides_titles_body_tables_charts_notes(tmp_path: Path) -> None:
    doc = load_path(_deck(tmp_path / "support.pptx"))[0]
    slides = _by_slide(doc)
    assert doc.title == "Support handbook" and doc.page_count == 3 and doc.format == "pptx"
    heading, body, notes = slides[1]
    assert heading.kind == "heading" and heading.text == "Slide 1: Return policy"
    assert (
        body.kind == "list" and body.text == "- Unopened items: 60 days\n  - Opened headphones: exchange only"
    )
    assert body.heading_path == ("Slide 1: Return policy",)
    assert notes.heading_path == ("Slide 1: Return policy", "Speaker notes") and "31 January" in notes.text
    (table,) = [b for b in slides[2] if b.kind == "table"]
    assert table.header and table.rows == (
        ("Region", "Standard", "Express"),
        ("Europe", "$5", "$15"),
        ("Asia", "$9", "$25"),
    )
    chart_title, chart = slides[3][1:]
    assert chart_title.text == "Chart: Returns and exchanges"
    assert chart.kind == "table" and chart.rows == (
        ("", "Returns", "Exchanges"),
        ("Q1", "120", "40"),
        ("Q2", "95", "52"),
    )


def test_pptx_pictures_are_ocrd_when_ocr_is_on(tmp_path: Path) -> None:
    path = _deck(tmp_path / "deck.pptx", picture=True)
    without = _by_slide(load_path(path)[0])
    assert [b.kind for b in without[4]] == ["heading"]  # OCR off: the picture adds nothing
    slides = _by_slide(load_path(path, ocr=FakeEngine())[0])
    (figure,) = slides[4][1:]
    assert figure.text == "Figure text: Revenue grew 12% in Q3 Source: finance team"
    assert figure.ocr_confidence == 0.899  # the lines' confidences weighted by their lengths
    assert figure.heading_path == ("Slide 4",)


def test_password_protected_pptx_is_refused_with_the_reason(tmp_path: Path) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = io.BytesIO(_deck(tmp_path / "plain.pptx").read_bytes())
    locked = tmp_path / "locked.pptx"
    with locked.open("wb") as out:
        OOXMLFile(plain).encrypt("s3cret", out)
    with pytest.raises(EncryptedFileError, match="password"):
        load_path(locked)


# ---------------------------------------------------------------- e-mail


def _mail() -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Refund for order 4411"
    message["From"] = "Dana Lee <dana@example.com>"
    message["To"] = "support@example.com"
    message["Date"] = "Tue, 14 Nov 2023 09:30:00 +0000"
    message.set_content("Please refund order 4411.\n\nThe parcel arrived damaged.")
    message.add_alternative(
        "<html><body><p>Please refund order <b>4411</b>.</p><p>The parcel arrived damaged.</p></body></html>",
        subtype="html",
    )
    return message


def test_eml_message_and_attachments_are_linked_documents(tmp_path: Path) -> None:
    message = _mail()
    message.add_attachment(b"sku,qty\nHX-200,1\n", maintype="text", subtype="csv", filename="order.csv")
    message.add_attachment(
        _pdf_bytes("Delivery note for order 4411"),
        maintype="application",
        subtype="pdf",
        filename="delivery.pdf",
    )
    message.add_attachment(b"MZ\x90\x00", maintype="application", subtype="octet-stream", filename="tool.exe")
    forwarded = _mail()
    forwarded.replace_header("Subject", "Original complaint")
    message.add_attachment(forwarded)
    path = tmp_path / "refund.eml"
    path.write_bytes(bytes(message))

    mail, *attached = load_path(path)
    assert mail.source == "refund.eml" and mail.title == "Refund for order 4411" and mail.format == "eml"
    head = mail.blocks[0].text
    assert "From: Dana Lee <dana@example.com>" in head and "Date: 2023-11-14T09:30:00+00:00" in head
    assert "The parcel arrived damaged." in mail.text
    assert mail.metadata["attachments_skipped"][0]["name"] == "tool.exe"
    sources = {d.source: d for d in attached}
    assert set(mail.metadata["attachments"]) == set(sources)
    assert {"refund.eml/order.csv", "refund.eml/delivery.pdf"} <= set(sources)
    assert "Delivery note for order 4411" in sources["refund.eml/delivery.pdf"].text
    assert all(d.metadata["attached_to"] == "refund.eml" for d in attached)
    assert any(d.title == "Original complaint" for d in attached)  # a forwarded message


def test_html_only_eml_body_becomes_text(tmp_path: Path) -> None:
    message = EmailMessage()
    message["Subject"] = "Newsletter"
    message["From"] = "news@example.com"
    message.set_content(
        "<p>Store hours change on <i>Monday</i>.</p><table><tr><td>Mon</td><td>9-17</td></tr></table>",
        subtype="html",
    )
    path = tmp_path / "news.eml"
    path.write_bytes(bytes(message))
    (doc,) = load_path(path)
    assert "Store hours change on Monday." in doc.text and "<p>" not in doc.text


def test_corrupt_eml_is_refused_with_the_reason(tmp_path: Path) -> None:
    garbage = tmp_path / "broken.eml"
    garbage.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CorruptFileError, match="expected text"):
        load_path(garbage)
    notes = tmp_path / "notes.eml"
    notes.write_text("just some notes someone saved with the wrong extension\n")
    with pytest.raises(CorruptFileError, match="not an e-mail message"):
        load_path(notes)


def test_msg_is_refused_with_what_to_do(tmp_path: Path) -> None:
    msg = tmp_path / "outlook.msg"
    msg.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(UnsupportedFormatError, match=r"save the message as \.eml"):
        load_path(msg)


# ---------------------------------------------------------------- legacy Office (LibreOffice)

needs_libreoffice = pytest.mark.skipif(
    office_loader.soffice_binary() is None,
    reason="LibreOffice not installed (scripts/system_deps.sh installs libreoffice-*-nogui)",
)


def _convert(source: Path, target_ext: str, out: Path) -> Path:
    """Save ``source`` in a legacy/OpenDocument format with LibreOffice itself."""
    binary = office_loader.soffice_binary()
    assert binary
    subprocess.run(
        [
            binary,
            f"-env:UserInstallation={(out / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            target_ext,
            "--outdir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return out / f"{source.stem}.{target_ext}"


@needs_libreoffice
def test_legacy_office_files_are_converted_and_read(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_heading("Travel policy", level=1)
    word.add_paragraph("Economy class for flights under six hours.")
    word.save(str(tmp_path / "travel.docx"))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["City", "Per diem"])
    sheet.append(["Berlin", 62])
    book.save(str(tmp_path / "rates.xlsx"))
    _deck(tmp_path / "slides.pptx")
    (tmp_path / "memo.rtf").write_text(
        r"{\rtf1\ansi {\fonttbl\f0 Arial;}\f0 Expense reports are due on Friday.\par}"
    )
    made = {
        "doc": _convert(tmp_path / "travel.docx", "doc", tmp_path),
        "odt": _convert(tmp_path / "travel.docx", "odt", tmp_path),
        "xls": _convert(tmp_path / "rates.xlsx", "xls", tmp_path),
        "ppt": _convert(tmp_path / "slides.pptx", "ppt", tmp_path),
        "rtf": tmp_path / "memo.rtf",
    }
    docs = {ext: load_path(path)[0] for ext, path in made.items()}
    assert "six hours" in docs["doc"].text and docs["doc"].format == "doc"
    assert any(b.kind == "heading" and b.text == "Travel policy" for b in docs["doc"].blocks)
    assert "six hours" in docs["odt"].text
    assert any(row == ("Berlin", "62") for b in docs["xls"].blocks for row in b.rows)
    assert docs["ppt"].blocks[0].text == "Slide 1: Return policy" and docs["ppt"].page_count == 3
    assert "due on Friday" in docs["rtf"].text and docs["rtf"].format == "rtf"
    assert docs["doc"].content_hash != docs["odt"].content_hash  # each original file's own bytes


def test_legacy_office_without_libreoffice_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(office_loader, "soffice_binary", lambda: None)
    old = tmp_path / "budget.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(UnsupportedFormatError, match="libreoffice-calc-nogui"):
        load_path(old)
