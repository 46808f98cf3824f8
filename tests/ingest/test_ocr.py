"""OCR: reading order, page orientation, which PDF pages get OCR, provenance on blocks and chunks
(fast, with a fake engine), and the real RapidOCR engine on typeset English and Chinese pages, a
sideways page, a multi-page TIFF, an image without text and the scanned table of messy_docs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from benchmarks.ocr import cer
from benchmarks.ocr_pages import faint, font_path, image_pdf, render_page, sideways, skewed
from core.db import ChunkRow, Database, IngestionJob
from core.errors import EmptyFileError, NeedsOCRError
from core.settings import Settings
from core.types import Block, Document
from ingest.chunking import StructureAwareChunker
from ingest.loaders import load_path
from ingest.loaders.ocr_layout import reading_order
from ingest.ocr import OcrLine, read_page, shared_engine

needs_font = pytest.mark.skipif(font_path() is None, reason="no CJK font: apt-get install fonts-wqy-zenhei")


def box(
    text: str, left: float, top: float, width: float = 0, height: float = 20, conf: float = 0.9
) -> OcrLine:
    return OcrLine(text, conf, left, top, left + (width or 10 * len(text)), top + height)


class FakeEngine:
    """Returns fixed lines for any image and counts the images it was shown."""

    name = "fake"

    def __init__(self, lines: list[OcrLine]) -> None:
        self.lines = lines
        self.sizes: list[tuple[int, int]] = []

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        self.sizes.append(image.size)
        return list(self.lines)


# ---------------------------------------------------------------- layout and orientation (fast)


def test_reading_order_reads_columns_one_after_the_other() -> None:
    title = box("A title spanning both of the columns of this page", 100, 50, width=800)
    left = [box(f"left column line number {i} of the text", 100, 120 + 30 * i, width=380) for i in range(5)]
    right = [box(f"right column line number {i} of text", 520, 120 + 30 * i, width=380) for i in range(5)]
    rows = reading_order([*right, title, *left])  # the engine's order is arbitrary
    assert [r[0].text for r in rows] == [title.text, *(x.text for x in left), *(x.text for x in right)]


def test_reading_order_keeps_table_rows_whole() -> None:
    cells = [
        box(t, x, 100 + 30 * r)
        for r, row in enumerate([("Item", "Qty"), ("Pens", "4"), ("Ink", "2")])
        for t, x in zip(row, (100, 600), strict=True)
    ]
    rows = reading_order(cells)
    assert [[c.text for c in row] for row in rows] == [["Item", "Qty"], ["Pens", "4"], ["Ink", "2"]]


class SidewaysEngine:
    """Sees vertical text on a tall image and readable lines once it is turned to landscape."""

    name = "sideways"

    def __init__(self) -> None:
        self.calls = 0

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        self.calls += 1
        if image.height > image.width:
            return [box("tall", 10, 10, width=20, height=200, conf=0.5)]
        return [box("Quarterly report", 10, 10, conf=0.95)]


def test_read_page_turns_a_sideways_page_upright() -> None:
    engine = SidewaysEngine()
    lines = read_page(engine, Image.new("L", (100, 300), 255))
    assert [x.text for x in lines] == ["Quarterly report"] and engine.calls >= 2


# ---------------------------------------------------------------- which pages get OCR, provenance (fast)


def _text_layer_pdf(text: str) -> bytes:
    from tests.ingest.test_loaders import _pdf_bytes

    return _pdf_bytes(text)


def _mixed_pdf(tmp_path: Path) -> Path:
    """Page 1 has a text layer; page 2 is a blank scanned image."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_text_layer_pdf("Digital page about vacation policy"))))
    writer.append(PdfReader(io.BytesIO(image_pdf([Image.new("L", (600, 400), 255)]))))
    path = tmp_path / "mixed.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_only_pages_without_text_layer_are_ocrd(tmp_path: Path) -> None:
    engine = FakeEngine([box("Scanned claim form for dental care", 50, 40, conf=0.8)])
    steps: list[tuple[str, int, int]] = []
    doc = load_path(_mixed_pdf(tmp_path), ocr=engine, progress=lambda *s: steps.append(s))[0]
    assert len(engine.sizes) == 1  # page 1 has text: only page 2 was rendered and read
    by_page = {b.page: b for b in doc.blocks}
    assert by_page[1].ocr_confidence is None and "vacation" in by_page[1].text
    assert by_page[2].text == "Scanned claim form for dental care" and by_page[2].ocr_confidence == 0.8
    assert doc.metadata["ocr"]["pages"] == [2] and ("ocr", 1, 1) in steps


def test_ocr_confidence_reaches_chunks() -> None:
    doc = Document(
        source="scan.pdf",
        title="Scan",
        blocks=(
            Block(kind="paragraph", text="typed words on page one", page=1),
            Block(kind="paragraph", text="recognised words", page=2, ocr_confidence=0.91),
            Block(kind="paragraph", text="more recognised words", page=2, ocr_confidence=0.72),
        ),
        content_hash="x",
        format="pdf",
    )
    chunker = StructureAwareChunker(
        lambda texts: [len(t.split()) for t in texts], max_tokens=64, target_tokens=60
    )
    (chunk,) = chunker.split(doc)
    assert chunk.ocr_confidence == 0.72  # the weakest OCR'd block in it
    typed = chunker.split(Document("a.pdf", "A", doc.blocks[:1], "y", "pdf"))
    assert typed[0].ocr_confidence is None


def test_ocr_off_refuses_scans_and_images_with_the_reason(tmp_path: Path) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(image_pdf([Image.new("L", (300, 200), 255)]))
    with pytest.raises(NeedsOCRError, match="OCR is turned off"):
        load_path(scan)
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (50, 50), "white").save(photo)
    with pytest.raises(NeedsOCRError, match="kb bases update"):
        load_path(photo)


# ---------------------------------------------------------------- the real engine (slow)


ENGLISH = [
    "Employees may carry over up to five unused vacation days into the next calendar year.",
    "Requests for reimbursement must be submitted within ninety days of the expense.",
]
CHINESE = [
    "员工每年享有十五天带薪年假，未使用的假期可以顺延到下一年。",
    "报销申请须在费用发生后九十天内提交。",
]


@pytest.mark.slow
@needs_font
@pytest.mark.parametrize(
    ("name", "paragraphs", "variant", "limit"),
    [
        ("english", ENGLISH, None, 0.03),
        ("chinese", CHINESE, None, 0.05),
        ("faint", ENGLISH, faint, 0.05),
        ("skewed", ENGLISH, lambda p: skewed(p, 3), 0.05),
        ("sideways", ENGLISH, sideways, 0.05),
    ],
)
def test_real_ocr_reads_scanned_pages(
    tmp_path: Path, name: str, paragraphs: list[str], variant, limit: float
) -> None:
    page = render_page(paragraphs, point_size=14)
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(image_pdf([variant(page) if variant else page]))
    doc = load_path(path, ocr=shared_engine())[0]
    assert cer("".join(paragraphs), "".join(b.text for b in doc.blocks)) <= limit
    assert all(b.page == 1 and b.ocr_confidence is not None and b.ocr_confidence > 0.8 for b in doc.blocks)


@pytest.mark.slow
@needs_font
def test_real_ocr_multipage_tiff_keeps_page_numbers(tmp_path: Path) -> None:
    first, second = render_page([ENGLISH[0]], point_size=14), render_page([CHINESE[1]], point_size=14)
    path = tmp_path / "fax.tiff"
    first.save(path, save_all=True, append_images=[second], compression="tiff_deflate")
    doc = load_path(path, ocr=shared_engine())[0]
    assert doc.page_count == 2 and doc.format == "tiff"
    assert "vacation" in " ".join(b.text for b in doc.blocks if b.page == 1)
    assert "九十天" in "".join(b.text for b in doc.blocks if b.page == 2)


@pytest.mark.slow
def test_real_ocr_image_without_text_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "sky.png"
    Image.radial_gradient("L").resize((800, 600)).save(path)
    with pytest.raises(EmptyFileError, match="OCR found no text"):
        load_path(path, ocr=shared_engine())


@pytest.mark.slow
def test_real_ocr_scanned_table_of_messy_docs_keeps_its_header(datasets: Path) -> None:
    path = datasets / "messy_docs_unstructured" / "table-multi-row-column-cells.pdf"
    doc = load_path(path, ocr=shared_engine())[0]
    (table,) = [b for b in doc.blocks if b.kind == "table"]
    assert table.header and table.rows[0][:2] == ("Disability Category", "Participants")
    assert ("Blind", "5", "1", "4", "34.5%, n=1", "1199 sec, n=1") in table.rows
    assert table.page == 1 and table.ocr_confidence is not None and table.ocr_confidence > 0.9


def test_pipeline_records_ocr_progress_and_provenance(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    from ingest.embedder import HashingEmbedder
    from ingest.pipeline import IngestionPipeline
    from tests.ingest.test_pipeline import word_counter

    pipe = IngestionPipeline(settings, db, HashingEmbedder(), StructureAwareChunker(word_counter))
    pipe.catalog.create("scans")
    pipe.ocr = FakeEngine([box("Scanned claim form for dental care", 50, 40, conf=0.8)])  # type: ignore[assignment]
    seen: list[dict[str, object] | None] = []
    record = pipe.jobs.working_on
    pipe.jobs.working_on = lambda job, current: (seen.append(current), record(job, current))  # type: ignore[method-assign]
    report = pipe.ingest("scans", [_mixed_pdf(tmp_path)])
    assert report.added == 1
    assert {"source": "mixed.pdf", "step": "ocr", "done": 1, "total": 1} in seen
    with db.session() as session:
        rows = session.execute(select(ChunkRow.page_end, ChunkRow.ocr_confidence)).all()
        job = session.get(IngestionJob, report.job_id)
        assert job is not None and job.current is None  # cleared when the job finished
    assert [tuple(r) for r in rows] == [(2, 0.8)]  # one small chunk: typed page 1 + scanned page 2

    pipe.catalog.update("scans", ocr=False)
    (tmp_path / "again").mkdir()
    scan = tmp_path / "again" / "scan.pdf"
    scan.write_bytes(image_pdf([Image.new("L", (300, 200), 255)]))
    off = pipe.ingest("scans", [scan])
    assert "OCR is turned off" in off.failed[0]["error"]
