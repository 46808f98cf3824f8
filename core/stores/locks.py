"""Writer locks of a knowledge base: one writer at a time, across processes and, on PostgreSQL, machines.

A lock dies with its holder (the file lock's descriptor, or the advisory lock's connection), so a
crashed writer never blocks the next one, and holding the lock proves no live process is writing.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from sqlalchemy import Engine, text

from core.errors import ConflictError


def _advisory_class(scope: str) -> int:
    """First half of the two-int advisory key: ours alone, and one per backend, so a migration can
    hold the source backend's lock while the target backend's writer takes its own."""
    return zlib.crc32(f"kb-platform:{scope}-writer".encode()) & 0x7FFFFFFF


class LockBusy(ConflictError):
    """Another process is writing this knowledge base."""


class FileWriterLock:
    """A lock file beside the base's data (one machine)."""

    def __init__(self, path: Path, timeout: float = 600) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(path))
        self.timeout = timeout

    def acquire(self, timeout: float | None = None) -> None:
        try:
            self._lock.acquire(timeout=self.timeout if timeout is None else timeout)
        except Timeout:
            raise LockBusy(f"{self._lock.lock_file} is held by another writer") from None

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> FileWriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class AdvisoryWriterLock:
    """A PostgreSQL session-level advisory lock on a connection of its own (any number of machines)."""

    def __init__(self, engine: Engine, kb_id: int, timeout: float = 600, scope: str = "base") -> None:
        self.engine = engine
        self.kb_id = kb_id
        self.timeout = timeout
        self._class = _advisory_class(scope)
        self._conn: Any = None

    def acquire(self, timeout: float | None = None) -> None:
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        conn = self.engine.connect()
        try:
            while True:
                got = conn.execute(
                    text("SELECT pg_try_advisory_lock(:c, :k)"), {"c": self._class, "k": self.kb_id}
                ).scalar()
                conn.commit()
                if got:
                    self._conn = conn
                    return
                if time.monotonic() >= deadline:
                    raise LockBusy(f"knowledge base {self.kb_id} is being written by another process")
                time.sleep(0.2)
        except BaseException:
            conn.close()
            raise

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:c, :k)"), {"c": self._class, "k": self.kb_id})
            conn.commit()
        finally:
            conn.close()

    def __enter__(self) -> AdvisoryWriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def writer_lock(
    engine: Engine, lock_dir: Path, kb_id: int, scope: str, timeout: float = 600
) -> FileWriterLock | AdvisoryWriterLock:
    """The advisory lock when SQL is PostgreSQL (shared by every machine), else a lock file."""
    if engine.dialect.name == "postgresql":
        return AdvisoryWriterLock(engine, kb_id, timeout, scope)
    return FileWriterLock(lock_dir / f"{scope}-{kb_id}.lock", timeout)
