"""Receiving uploaded files: safe names, type and size limits, all-or-nothing storage.

Files are streamed into a staging folder while their size is counted; only when every file of the
request passes are they stored in the blob store (``core.stores``: a local folder or S3) under
``<kb id>/<job id>/<name>``. A rejected request, or one whose files cannot all be stored (disk or
bucket full), leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import LoaderError, StorageError
from core.settings import Settings
from core.stores.base import BlobStore
from ingest.loaders import REFUSED_EXTENSIONS, SUPPORTED_EXTENSIONS
from ingest.loaders.sniff import check_zip

_UNSAFE = re.compile(r"[^\w.\- ()\[\]&+,]+", re.UNICODE)
_ZIPPED = {".docx", ".xlsx", ".xlsm", ".pptx", ".odt", ".ods", ".odp"}


class UploadRejected(ValueError):
    """A file of the request cannot be accepted; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Staged:
    filename: str
    path: Path
    size: int


def safe_filename(raw: str | None) -> str:
    """The file's base name with path parts, control characters and odd symbols removed."""
    name = unicodedata.normalize("NFKC", raw or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name or name in {".", ".."}:
        raise UploadRejected(
            400, f"file name {raw!r} is empty or invalid; rename the file and upload it again"
        )
    stem, ext = os.path.splitext(name)
    return stem[: 180 - len(ext)] + ext.lower()


def check_type(name: str) -> None:
    ext = os.path.splitext(name)[1].lower()
    if ext in REFUSED_EXTENSIONS:
        raise UploadRejected(415, f"{name}: {REFUSED_EXTENSIONS[ext]}")
    if ext not in SUPPORTED_EXTENSIONS:
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise UploadRejected(
            415, f"{name}: file type '{ext or '(none)'}' is not supported; upload one of: {supported}"
        )


class UploadStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.upload_dir

    def stage(self, files: list[tuple[str | None, BinaryIO]]) -> tuple[Path, list[Staged]]:
        """Copy each (name, stream) into a fresh staging dir, enforcing the limits. Raises
        UploadRejected (and removes the staging dir) on the first bad file."""
        if not files:
            raise UploadRejected(400, "no files in the request; send them as multipart field 'files'")
        if len(files) > self.settings.upload_max_files:
            raise UploadRejected(
                413, f"{len(files)} files in one request; send at most {self.settings.upload_max_files}"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._sweep()
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        except OSError as exc:
            raise StorageError(f"cannot receive uploads in {self.root}: {exc.strerror}") from exc
        try:
            staged: list[Staged] = []
            seen: set[str] = set()
            for raw_name, stream in files:
                name = safe_filename(raw_name)
                check_type(name)
                if name in seen:
                    raise UploadRejected(400, f"{name} is in the request twice; send each file once")
                seen.add(name)
                target = staging / name
                size = self._copy_limited(stream, target, name)
                if size == 0:
                    raise UploadRejected(400, f"{name} is empty; nothing to index")
                if target.suffix in _ZIPPED:
                    try:
                        check_zip(target, name, self.settings.max_expanded_bytes)
                    except LoaderError as exc:
                        raise UploadRejected(413, f"{name}: {exc.reason}") from None
                    except zipfile.BadZipFile:
                        pass  # not a zip at all: ingestion reports what the file really is
                staged.append(Staged(name, target, size))
            return staging, staged
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _sweep(self, older_than: float = 3600.0) -> None:
        """Remove staging folders a killed API process left (an upload takes minutes, not an hour)."""
        cutoff = time.time() - older_than
        for folder in self.root.glob(".staging-*"):
            with contextlib.suppress(OSError):  # another replica may be removing it too
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder)

    def _copy_limited(self, stream: BinaryIO, target: Path, name: str) -> int:
        limit = self.settings.max_file_bytes
        size = 0
        try:
            with open(target, "wb") as out:
                while block := stream.read(1 << 20):
                    size += len(block)
                    if size > limit:
                        mib = limit // (1024 * 1024)
                        too_big = f"{name} is larger than the {mib} MiB limit (KB_MAX_FILE_BYTES)"
                        raise UploadRejected(413, too_big)
                    out.write(block)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                full = f"{name}: the upload disk is full ({self.root}); nothing was stored"
                raise StorageError(full) from exc
            raise
        return size

    def commit(
        self, blobs: BlobStore, kb_id: int, job_id: str, staging: Path, staged: list[Staged]
    ) -> list[str]:
        """Store the staged files as blobs ``<kb id>/<job id>/<name>``; their keys. All or nothing:
        when one cannot be stored (StorageError), those already stored are deleted again."""
        prefix = f"{kb_id}/{job_id}"
        keys: list[str] = []
        try:
            for item in staged:
                key = f"{prefix}/{item.filename}"
                with open(item.path, "rb") as stream:
                    blobs.put(key, stream)
                keys.append(key)
        except BaseException:
            blobs.delete_prefix(prefix)
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return keys
