"""What a file really is, from its first bytes (and a zip's central directory), before parsing."""

from __future__ import annotations

import zipfile
from pathlib import Path

from core.errors import FileTooLargeError

HEAD_BYTES = 8192
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png image"),
    (b"\xff\xd8\xff", "jpeg image"),
    (b"GIF87a", "gif image"),
    (b"GIF89a", "gif image"),
    (b"II*\x00", "tiff image"),
    (b"MM\x00*", "tiff image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (b"Rar!", "rar archive"),
    (b"{\\rtf", "rtf"),
    (_OLE2, "ole2"),
)
_ZIP_KINDS = (
    ("word/document.xml", "docx"),
    ("xl/workbook.xml", "xlsx"),
    ("ppt/presentation.xml", "pptx"),
)
_ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
}
_MAX_RATIO = 100  # deflate reaches ~1000:1 on zeros; real Office XML stays well below 100:1
_RATIO_FLOOR = 10 * 1024 * 1024  # small members may compress extremely well; only big ones count
_MAX_MEMBERS = 20_000
_PASSWORD_MARK = "EncryptedPackage".encode("utf-16-le")

DESCRIPTIONS = {
    "pdf": "a PDF",
    "docx": "a Word (.docx) document",
    "xlsx": "an Excel (.xlsx) workbook",
    "pptx": "a PowerPoint (.pptx) presentation",
    "zip": "a zip archive",
    "ole2": "a legacy Office 97-2003 file (.doc/.xls/.ppt)",
    "rtf": "an RTF document",
    "odt": "an OpenDocument text (.odt)",
    "ods": "an OpenDocument spreadsheet (.ods)",
    "odp": "an OpenDocument presentation (.odp)",
    "png image": "a PNG image",
    "jpeg image": "a JPEG image",
    "tiff image": "a TIFF image",
    "bmp image": "a BMP image",
    "webp image": "a WebP image",
    "gif image": "a GIF image",
    "html": "HTML (a web page)",
    "xml": "XML",
    "text": "plain text",
    "binary": "binary data",
}


def _zip_kind(path: Path) -> str:
    """docx/xlsx/pptx by the part names in the zip directory; ``zip`` otherwise."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100].strip() if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        return "zip"
    for name, kind in _ZIP_KINDS:
        if name in names:
            return kind
    return _ODF_MIMETYPES.get(mimetype, "zip")


def _text_kind(head: bytes) -> str:
    """html, xml, text or binary for a head that has no known magic number."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"  # UTF-16 with BOM: NUL bytes are expected
    if b"\x00" in head:
        return "binary"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html")) or (start.startswith(b"<") and b"<html" in start):
        return "html"
    if start.startswith(b"<?xml"):
        return "xml"
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return "binary" if controls * 20 > len(head) else "text"


def sniff(path: Path, head: bytes) -> str:
    """The content kind of ``path`` given its first bytes: pdf, docx, xlsx, html, text, ..."""
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(path)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp image"
    if (
        head.startswith(b"BM")
        and len(head) > 26
        and head[6:10] == b"\0\0\0\0"
        and head[14] in (12, 40, 56, 108, 124)
    ):
        return "bmp image"  # "BM", file size, reserved zeros, then a known DIB header size
    return _text_kind(head)


def is_encrypted_office(data: bytes) -> bool:
    """True for an OLE2 container holding a password-protected .docx/.xlsx package."""
    return data.startswith(_OLE2) and _PASSWORD_MARK in data


def check_zip(path: Path, source: str, max_expanded_bytes: int) -> None:
    """Refuse a zip whose directory promises more than ``max_expanded_bytes`` or absurd ratios."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise FileTooLargeError(source, f"zip holds {len(infos)} parts (limit {_MAX_MEMBERS}); not opened")
    total = sum(i.file_size for i in infos)
    if total > max_expanded_bytes:
        raise FileTooLargeError(
            source,
            f"expands to {total / 2**20:.0f} MiB when unzipped (limit {max_expanded_bytes / 2**20:.0f} MiB);"
            " looks like a zip bomb, not opened",
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR and ratio > _MAX_RATIO:
            raise FileTooLargeError(
                source,
                f"part {info.filename} compresses {ratio:.0f}:1 ({info.file_size / 2**20:.0f} MiB unzipped);"
                " looks like a zip bomb, not opened",
            )
