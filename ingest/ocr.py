"""Optical character recognition: a page image becomes text lines with boxes and confidences.

The engine is RapidOCR 3.10 (PP-OCRv6 small detection + recognition, Chinese and English in one
model), chosen by measurement over PP-OCRv4 and Tesseract (docs/benchmarks.md, benchmarks/ocr.py).
Its ONNX models ship inside the wheel and are loaded from there by path, so nothing is ever
downloaded; onnxruntime runs them on CUDA when it sees a GPU.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.errors import ConfigError

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

OCR_INSTALL = 'pip install "rapidocr==3.10.0" onnxruntime (or onnxruntime-gpu)'
_VERTICAL = 1.5  # a line box this much taller than wide holds vertical text: the page is turned
_LOW_CONFIDENCE = 0.75  # a page read with less than this may be upside down: try it turned over


@dataclass(frozen=True)
class OcrLine:
    """One recognised text line: its text, confidence (0-1) and box in pixels (y grows downwards)."""

    text: str
    confidence: float
    left: float
    top: float
    right: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def width(self) -> float:
        return self.right - self.left


class OcrEngine(Protocol):
    """Recognises the text lines of one upright image."""

    name: str

    def recognize(self, image: Image) -> list[OcrLine]: ...


def _cuda_available() -> bool:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ConfigError(f"OCR needs onnxruntime: {OCR_INSTALL}") from exc
    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


class RapidOcrEngine:
    """RapidOCR with the PP-OCRv6 models bundled in its wheel (CPU, or CUDA when onnxruntime has it)."""

    name = "rapidocr-3.10 PP-OCRv6-small"

    def __init__(self, device: str = "auto") -> None:
        try:
            import rapidocr
        except ImportError as exc:
            raise ConfigError(f"OCR needs RapidOCR and onnxruntime: {OCR_INSTALL}") from exc
        models = Path(rapidocr.__file__).parent / "models"
        files = {
            "Det": models / "PP-OCRv6_det_small.onnx",
            "Rec": models / "PP-OCRv6_rec_small.onnx",
            "Cls": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
        }
        missing = [str(f) for f in files.values() if not f.is_file()]
        if missing:
            raise ConfigError(f"OCR models missing from the rapidocr wheel ({missing}); {OCR_INSTALL}")
        self.device = ("cuda" if _cuda_available() else "cpu") if device == "auto" else device
        params: dict[str, object] = {f"{stage}.model_path": str(path) for stage, path in files.items()}
        params["Global.log_level"] = "error"
        params["Global.use_cls"] = False  # page orientation is handled once per page (read_page)
        params["EngineConfig.onnxruntime.use_cuda"] = self.device == "cuda"
        self._engine = rapidocr.RapidOCR(params=params)
        self._lock = threading.Lock()  # RapidOCR keeps per-call settings on the instance

    def recognize(self, image: Image) -> list[OcrLine]:
        import numpy as np
        from rapidocr.utils.output import RapidOCROutput

        with self._lock:
            result = self._engine(np.asarray(image.convert("RGB")))
        if not isinstance(result, RapidOCROutput) or result.boxes is None or result.txts is None:
            return []  # nothing detected
        assert result.scores is not None
        lines = []
        for box, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
            xs, ys = [float(p[0]) for p in box], [float(p[1]) for p in box]
            if text.strip():
                lines.append(OcrLine(text.strip(), float(score), min(xs), min(ys), max(xs), max(ys)))
        return lines


@lru_cache(maxsize=2)
def shared_engine(device: str = "auto") -> OcrEngine:
    """The process-wide OCR engine (models load once, on first use)."""
    engine = RapidOcrEngine(device)
    log.info("OCR engine %s on %s", engine.name, engine.device)
    return engine


class LazyOcrEngine:
    """Stands for the shared engine and loads it only when an image is actually read."""

    name = RapidOcrEngine.name

    def __init__(self, device: str = "auto") -> None:
        self.device = device

    def recognize(self, image: Image) -> list[OcrLine]:
        return shared_engine(self.device).recognize(image)


def mean_confidence(lines: list[OcrLine]) -> float:
    """Confidence of a set of lines, weighted by how many characters each holds."""
    weights = [len(line.text) for line in lines]
    if not sum(weights):
        return 0.0
    return sum(w * line.confidence for w, line in zip(weights, lines, strict=True)) / sum(weights)


def _vertical(lines: list[OcrLine]) -> bool:
    """Most recognised text stands in tall, narrow boxes: the page lies on its side."""
    tall = sum(len(x.text) for x in lines if x.height > _VERTICAL * x.width and len(x.text) > 1)
    return tall * 2 > sum(len(x.text) for x in lines)


def prepare(image: Image) -> Image:
    """Greyscale with the contrast stretched: faint scans and coloured figures read better."""
    from PIL import ImageOps

    return ImageOps.autocontrast(ImageOps.exif_transpose(image).convert("L"), cutoff=0).convert("RGB")


def read_page(engine: OcrEngine, image: Image) -> list[OcrLine]:
    """Lines of a page image, turned upright first when it was scanned sideways or upside down."""
    from PIL import Image as PILImage

    image = prepare(image)
    lines = engine.recognize(image)
    if not lines:
        return []
    sideways = _vertical(lines)
    best, best_score = lines, 0.0 if sideways else mean_confidence(lines)
    turns: tuple[PILImage.Transpose, ...]
    if sideways:
        turns = (PILImage.Transpose.ROTATE_270, PILImage.Transpose.ROTATE_90)
    elif best_score < _LOW_CONFIDENCE:
        turns = (PILImage.Transpose.ROTATE_180,)
    else:
        return lines
    for turn in turns:
        candidate = engine.recognize(image.transpose(turn))
        score = 0.0 if not candidate or _vertical(candidate) else mean_confidence(candidate)
        if score > best_score:
            best, best_score = candidate, score
    return best
