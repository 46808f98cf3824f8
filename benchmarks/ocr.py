"""OCR engines compared on pages whose text is known: character error rate (CER) and pages/s.

Usage: .venv/bin/python -m benchmarks.ocr [--engines rapidocr-v6,rapidocr-v4,tesseract] [--no-write]

The set is built on the fly: English pages of the real Contoso PDFs rendered to images at 150, 200
and 300 dpi (truth: the page's text layer), Chinese CMRC 2018 paragraphs typeset with a CJK font
(truth: the paragraphs), a page fed askew (3 degrees), a page scanned sideways, two faint
(low-contrast) pages, and the scanned table of messy_docs (truth: its transcription CSV). Every
engine's lines go through the same reading order and block building as ingestion, so the CER is
what a user would search. Whitespace and table separators are ignored in the CER.

Candidates besides the product's engine need extra installs (not in the product):
  pip install --no-deps rapidocr-onnxruntime==1.4.4   # PP-OCRv4; its opencv-python dependency
                                                      # would clash with rapidocr's headless opencv
  pip install pytesseract==0.3.13 && apt-get install tesseract-ocr tesseract-ocr-chi-sim
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from benchmarks.ocr_pages import faint, render_page, sideways, skewed
from benchmarks.report import REPO, write_results
from ingest.loaders.ocr_layout import ocr_blocks
from ingest.ocr import OcrEngine, OcrLine, RapidOcrEngine, read_page

DATASETS = REPO.parent / "shared" / "datasets"
CONTOSO_PAGES = [  # (file, 1-based page): prose pages of the HR/benefits PDFs
    ("employee_handbook.pdf", 2),
    ("employee_handbook.pdf", 6),
    ("PerksPlus.pdf", 3),
    ("Northwind_Standard_Benefits_Details.pdf", 8),
    ("Northwind_Health_Plus_Benefits_Details.pdf", 4),
    ("role_library.pdf", 19),
]
DPIS = (150, 200, 300)


@dataclass
class Sample:
    name: str
    kind: str  # english | chinese | skewed | sideways | faint | scan
    image: Image.Image
    truth: str


def _pdf_page(path: Path, page: int, dpi: int) -> tuple[Image.Image, str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        handle = pdf[page - 1]
        textpage = handle.get_textpage()
        truth = textpage.get_text_range()
        image = handle.render(scale=dpi / 72, grayscale=True).to_pil()
        textpage.close()
        handle.close()
    finally:
        pdf.close()
    return image, truth


def _chinese_paragraphs(count: int) -> list[list[str]]:
    path = DATASETS / "cmrc2018_trial_zh" / "corpus.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:count]]
    return [[r["text"][:260]] for r in records]


def build_set() -> list[Sample]:
    """The pages and their true text (see the module docstring)."""
    samples: list[Sample] = []
    docs = DATASETS / "contoso_hr_benefits" / "docs"
    for i, (name, page) in enumerate(CONTOSO_PAGES):
        dpi = DPIS[i % len(DPIS)]
        image, truth = _pdf_page(docs / name, page, dpi)
        samples.append(Sample(f"{name}#page={page}@{dpi}dpi", "english", image, truth))
    chinese = _chinese_paragraphs(6)
    for i, paragraphs in enumerate(chinese[:4]):
        samples.append(
            Sample(f"cmrc2018 paragraph {i + 1}", "chinese", render_page(paragraphs), "".join(paragraphs))
        )
    image, truth = _pdf_page(docs / "PerksPlus.pdf", 2, 200)
    samples.append(Sample("PerksPlus.pdf#page=2 askew 3°", "skewed", skewed(image, 3), truth))
    samples.append(
        Sample("cmrc2018 paragraph 5 sideways", "sideways", sideways(render_page(chinese[4])), chinese[4][0])
    )
    image, truth = _pdf_page(docs / "employee_handbook.pdf", 3, 200)
    samples.append(Sample("employee_handbook.pdf#page=3 faint", "faint", faint(image), truth))
    samples.append(
        Sample("cmrc2018 paragraph 6 faint", "faint", faint(render_page(chinese[5])), chinese[5][0])
    )
    messy = DATASETS / "messy_docs_unstructured"
    image, _ = _pdf_page(messy / "table-multi-row-column-cells.pdf", 1, 200)
    with (messy / "table-multi-row-column-cells-actual.csv").open(encoding="utf-8") as handle:
        truth = " ".join(cell for row in csv.reader(handle) for cell in row)
    samples.append(Sample("table-multi-row-column-cells.pdf (scan)", "scan", image, truth))
    return samples


def cer(truth: str, text: str) -> float:
    """Levenshtein distance over characters / length of the truth; whitespace and '|' ignored."""
    a, b = re.sub(r"[\s|]+", "", truth), re.sub(r"[\s|]+", "", text)
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] / max(len(a), 1)


class RapidOcrV4:
    """rapidocr-onnxruntime 1.4.4: PP-OCRv4 mobile models (the older candidate)."""

    name = "rapidocr-onnxruntime-1.4.4 PP-OCRv4"

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR(use_cls=False)

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        import numpy as np

        result, _ = self.engine(np.asarray(image.convert("RGB")), use_cls=False)
        lines = []
        for points, text, score in result or []:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            lines.append(OcrLine(text, float(score), min(xs), min(ys), max(xs), max(ys)))
        return lines


class Tesseract:
    """Tesseract 5 (Debian's tesseract-ocr with eng and chi_sim), one OcrLine per text line."""

    name = "tesseract-5 eng+chi_sim"

    def __init__(self) -> None:
        import pytesseract

        self.tesseract = pytesseract
        self.version = str(pytesseract.get_tesseract_version())

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        data = self.tesseract.image_to_data(image, lang="eng+chi_sim", output_type=self.tesseract.Output.DICT)
        lines: dict[tuple[int, int, int], list[int]] = {}
        for i, word in enumerate(data["text"]):
            if word.strip() and float(data["conf"][i]) >= 0:
                lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(
                    i
                )
        out = []
        for ids in lines.values():
            words = [data["text"][i] for i in ids]
            cjk = all(re.fullmatch(r"[\u3000-\u9fff\uff00-\uffef]+", w) for w in words)
            out.append(
                OcrLine(
                    ("" if cjk else " ").join(words),
                    sum(float(data["conf"][i]) for i in ids) / len(ids) / 100,
                    min(data["left"][i] for i in ids),
                    min(data["top"][i] for i in ids),
                    max(data["left"][i] + data["width"][i] for i in ids),
                    max(data["top"][i] + data["height"][i] for i in ids),
                )
            )
        return out


ENGINES = {"rapidocr-v6": RapidOcrEngine, "rapidocr-v4": RapidOcrV4, "tesseract": Tesseract}


def run_engine(engine: OcrEngine, samples: list[Sample]) -> dict[str, Any]:
    """CER per sample and per kind, and pages/s over the whole set (model loading excluded)."""
    engine.recognize(Image.new("RGB", (200, 60), "white"))  # load the models outside the timing
    rows = []
    start = time.perf_counter()
    for sample in samples:
        t0 = time.perf_counter()
        lines = read_page(engine, sample.image)
        text = "\n".join(b.text for b in ocr_blocks(lines, sample.image.height, 1))
        rows.append(
            {
                "page": sample.name,
                "kind": sample.kind,
                "cer": round(cer(sample.truth, text), 4),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
    elapsed = time.perf_counter() - start
    kinds: dict[str, list[float]] = {}
    for row in rows:
        kinds.setdefault(row["kind"], []).append(row["cer"])
    return {
        "engine": engine.name,
        "pages": len(samples),
        "pages_per_s": round(len(samples) / elapsed, 3),
        "mean_cer": round(sum(r["cer"] for r in rows) / len(rows), 4),
        "cer_by_kind": {k: round(sum(v) / len(v), 4) for k, v in kinds.items()},
        "samples": rows,
    }


def _markdown(results: list[dict[str, Any]], load: str) -> str:
    kinds = ["english", "chinese", "skewed", "sideways", "faint", "scan"]
    lines = [
        "## OCR engines (`benchmarks/ocr.py`)",
        "",
        "Command: `.venv/bin/python -m benchmarks.ocr` (needs the CJK font of scripts/system_deps.sh; the",
        "other candidates' installs are in the script's docstring). CER = character error rate after the",
        "same reading order and block building as ingestion (whitespace ignored; lower is better). Pages:",
        "6 real Contoso pages rendered at 150/200/300 dpi, 4 CMRC 2018 Chinese paragraphs typeset at",
        "200 dpi, 1 page askew by 3°, 1 Chinese page sideways, 2 faint pages (English, Chinese), and the",
        "scanned table of messy_docs. 2 CPU cores, single process; load average at the start: " + load + ".",
        "",
        "| engine | mean CER | " + " | ".join(kinds) + " | pages/s |",
        "|---|---|" + "---|" * len(kinds) + "---|",
    ]
    for r in results:
        by_kind = " | ".join(f"{r['cer_by_kind'].get(k, float('nan')):.3f}" for k in kinds)
        lines.append(f"| {r['engine']} | {r['mean_cer']:.3f} | {by_kind} | {r['pages_per_s']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "n/a"
    samples = build_set()
    results = []
    for key in args.engines.split(","):
        try:
            engine = ENGINES[key]()
        except (ImportError, OSError, RuntimeError) as exc:
            print(f"{key}: skipped ({exc})")
            continue
        result = run_engine(engine, samples)
        print(json.dumps({k: v for k, v in result.items() if k != "samples"}, ensure_ascii=False))
        results.append(result)
    markdown = _markdown(results, load)
    print(markdown)
    if not args.no_write:
        write_results("ocr", {"load_average_at_start": load, "results": results}, markdown)


if __name__ == "__main__":
    main()
