"""Legacy and OpenDocument office files (.doc, .xls, .ppt, .rtf, .odt, .ods, .odp): converted by
LibreOffice headless to .docx/.xlsx/.pptx, then read by those loaders. Without LibreOffice they are
refused with the package to install."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

from core.errors import CorruptFileError, UnsupportedFormatError
from core.types import Document, sha256_hex
from ingest.loaders.base import Loader, LoadOptions
from ingest.loaders.docx_loader import DocxLoader
from ingest.loaders.pptx_loader import PptxLoader
from ingest.loaders.xlsx_loader import XlsxLoader

log = logging.getLogger(__name__)

CONVERT_TIMEOUT_S = 180
INSTALL_HINT = (
    "install LibreOffice to read it (Debian/Ubuntu: apt-get install libreoffice-writer-nogui "
    "libreoffice-calc-nogui libreoffice-impress-nogui), or save it as .docx/.xlsx/.pptx and upload that"
)
# extension -> (LibreOffice output filter, extension it produces, loader of that format)
_TARGETS: dict[str, tuple[str, str, type[DocxLoader] | type[XlsxLoader] | type[PptxLoader]]] = {
    ".doc": ("docx:MS Word 2007 XML", ".docx", DocxLoader),
    ".rtf": ("docx:MS Word 2007 XML", ".docx", DocxLoader),
    ".odt": ("docx:MS Word 2007 XML", ".docx", DocxLoader),
    ".xls": ("xlsx:Calc MS Excel 2007 XML", ".xlsx", XlsxLoader),
    ".ods": ("xlsx:Calc MS Excel 2007 XML", ".xlsx", XlsxLoader),
    ".ppt": ("pptx:Impress MS PowerPoint 2007 XML", ".pptx", PptxLoader),
    ".odp": ("pptx:Impress MS PowerPoint 2007 XML", ".pptx", PptxLoader),
}
OFFICE_EXTENSIONS = frozenset(_TARGETS)
# A legacy file saved under a modern extension is routed here too (ingest.loaders._LEGACY_OF).
_TARGETS.update({".docx": _TARGETS[".doc"], ".xlsx": _TARGETS[".xls"], ".xlsm": _TARGETS[".xls"]})
_TARGETS[".pptx"] = _TARGETS[".ppt"]


def soffice_binary() -> str | None:
    """The LibreOffice executable on PATH, if installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


class OfficeLoader:
    """A legacy/OpenDocument file, converted with LibreOffice and read as its modern equivalent."""

    format = "office"

    def __init__(self, options: LoadOptions | None = None) -> None:
        self.options = options or LoadOptions()

    def load(self, path: Path) -> list[Document]:
        source = self.options.source_for(path)
        ext = path.suffix.lower()
        binary = soffice_binary()
        if binary is None:
            raise UnsupportedFormatError(
                source,
                f"a legacy or OpenDocument office file ('{ext}') needs LibreOffice, which is not "
                f"installed; {INSTALL_HINT}",
            )
        out_filter, out_ext, loader_class = _TARGETS[ext]
        data = path.read_bytes()
        with tempfile.TemporaryDirectory(prefix="kb-office-") as tmp:
            work = Path(tmp)
            original = work / f"in{ext}"
            original.write_bytes(data)
            converted = self._convert(binary, original, out_filter, work, source)
            loader: Loader = loader_class(self.options)
            docs = loader.load(converted.rename(work / f"{path.stem}{out_ext}"))
        # The document is the original file: its hash (re-ingest detection) and its format.
        return [replace(d, content_hash=sha256_hex(data), format=ext.lstrip(".")) for d in docs]

    def _convert(self, binary: str, original: Path, out_filter: str, work: Path, source: str) -> Path:
        """Run LibreOffice headless with a private profile (so conversions can run side by side)."""
        profile = (work / "profile").as_uri()
        command = [
            binary,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            out_filter,
            "--outdir",
            str(work / "out"),
            str(original),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=CONVERT_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise CorruptFileError(
                source,
                f"LibreOffice did not convert it within {CONVERT_TIMEOUT_S} s; the file may be damaged",
            ) from exc
        produced = list((work / "out").glob("*")) if (work / "out").is_dir() else []
        if not produced:
            detail = (done.stderr or done.stdout).strip().splitlines()
            log.info("%s: LibreOffice conversion failed (%s): %s", source, done.returncode, detail)
            raise CorruptFileError(
                source,
                "LibreOffice could not convert this legacy or OpenDocument office file "
                "(damaged, password-protected, or not really an office file)",
            )
        return produced[0]
