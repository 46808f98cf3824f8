"""Uploaded files in a local folder, by key (``<kb id>/<job id>/<file name>``); written atomically.

``blob_store(settings)`` picks the configured backend (this one, or ``core.stores.s3``)."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from core.errors import NotFoundError, StorageError
from core.settings import Settings
from core.stores.base import BlobStore


def check_key(key: str) -> str:
    """``key`` if it is a relative path that cannot leave the store's root; else ValueError."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ValueError(f"invalid blob key {key!r}")
    return key


def blob_store(settings: Settings) -> BlobStore:
    """The configured store of uploaded files."""
    if settings.blob_backend == "s3":
        from core.stores.s3 import S3BlobStore

        return S3BlobStore(settings)
    return LocalBlobStore(settings.upload_dir)


class LocalBlobStore:
    """Blobs as files under ``root``; a key never leaves it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put(self, key: str, stream: BinaryIO) -> int:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise self._error(key, exc) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except OSError as exc:  # ENOSPC, EDQUOT: nothing half-written stays behind
            Path(tmp).unlink(missing_ok=True)
            raise self._error(key, exc) from exc
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target.stat().st_size

    def _error(self, key: str, exc: OSError) -> StorageError:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            full = f"cannot store {key!r}: the upload disk ({self.root}) is full; nothing was kept"
            return StorageError(full)
        return StorageError(f"cannot store {key!r} in {self.root}: {exc.strerror}")

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.path(key), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"stored file {key!r} is missing") from None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix.rstrip("/")), ignore_errors=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise NotFoundError(f"stored file {key!r} is missing")
        yield path
