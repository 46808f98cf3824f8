"""Store protocols: where search data lives (vectors, keywords, uploaded files), whatever the engine.

Retrieval asks a ``VectorStore`` and a ``KeywordStore`` for chunk keys and scores under a
``StoreFilter`` (the knowledge base, the caller's groups, tags, metadata), fuses them, and reads
the text of the final hits from SQL once. Writes go through one ``IndexWriter`` per base: vectors
and keywords change together and become visible with the SQL transaction of the chunk rows.

A chunk's *key* is the int64 derived from its chunk id (``core.types.vector_id``): every engine
indexes an integer primary key well, and SQL holds ``chunks.vector_id`` beside ``chunks.id``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

Scored = tuple[np.ndarray, np.ndarray]
"""(scores float32, chunk keys int64), best first."""

# Document metadata that is bookkeeping, not something a search filters on.
_NOT_FILTERABLE = frozenset({"file_hash", "file_path", "file_key"})


def empty_scored() -> Scored:
    return np.zeros(0, np.float32), np.zeros(0, np.int64)


def filterable_metadata(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of a document's metadata that stores keep as filter fields."""
    return {k: v for k, v in (meta or {}).items() if k not in _NOT_FILTERABLE}


@dataclass(frozen=True)
class StoreFilter:
    """Which chunks a search may see; applied by the engine *before* top-k selection.

    ``groups`` None means no group restriction (an admin); otherwise a chunk is visible when its
    document has no access groups or shares one with ``groups`` (an empty set sees only the former).
    ``document_ids``/``tags`` None mean no restriction; ``metadata`` requires each key to equal the value
    or, for a list-valued field, to contain it (:func:`meta_matches`).
    """

    kb_id: int
    groups: frozenset[str] | None = None
    document_ids: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def unrestricted(self) -> bool:
        return self.groups is None and self.document_ids is None and self.tags is None and not self.metadata

    def admits(
        self, document_id: str, groups: Sequence[str], tags: Sequence[str], meta: Mapping[str, Any]
    ) -> bool:
        """The reference semantics every backend's filter must reproduce (and the FAISS backend uses)."""
        if self.groups is not None and groups and self.groups.isdisjoint(groups):
            return False
        if self.document_ids is not None and document_id not in self.document_ids:
            return False
        if self.tags is not None and self.tags.isdisjoint(tags):
            return False
        return all(meta_matches(meta.get(key), value) for key, value in self.metadata.items())


def meta_matches(held: Any, wanted: Any) -> bool:
    """A metadata filter value matches a document value that equals it, or a list that contains it
    (a filing's ``tickers``); every backend's filter reproduces this."""
    if isinstance(held, list) and not isinstance(wanted, list):
        return wanted in held
    return bool(held == wanted)


@dataclass(frozen=True)
class ChunkEntry:
    """What a store keeps of one chunk: its key, vector, text for keywords, and filter fields."""

    key: int
    document_id: str
    text: str
    vector: np.ndarray
    groups: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BaseRef:
    """The knowledge-base record a store needs: its id and the dimension of its embeddings."""

    id: int
    dim: int


class VectorStore(Protocol):
    """Nearest chunks by cosine similarity, among those the filter admits."""

    def search(self, vector: np.ndarray, k: int, flt: StoreFilter) -> Scored: ...


class KeywordStore(Protocol):
    """Best keyword (BM25-like) matches for a text query, among those the filter admits."""

    def search(self, query: str, k: int, flt: StoreFilter) -> Scored: ...


class IndexWriter(Protocol):
    """Changes to one base's vectors and keywords, visible together with one SQL transaction.

    ``upsert``/``delete``/``set_access`` collect changes (idempotent by key); ``stage`` runs inside
    the SQL transaction that writes the chunk rows, after they are flushed; ``committed`` runs after
    that transaction commits. Use it inside ``SearchBackend.writer``, which holds the base's lock.
    """

    def upsert(self, entries: Sequence[ChunkEntry]) -> None: ...

    def delete(self, keys: Sequence[int]) -> None: ...

    def set_access(
        self,
        document_id: str,
        groups: Sequence[str],
        tags: Sequence[str],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Replace a document's filter fields: groups and tags, and its metadata when given."""

    def stage(self, session: Any, kb_row: Any) -> None: ...

    def committed(self) -> None: ...


class WriterLock(Protocol):
    """Exclusive right to write one base, across processes (and machines, where the engine allows)."""

    def acquire(self, timeout: float | None = None) -> None: ...

    def release(self) -> None: ...

    def __enter__(self) -> WriterLock: ...

    def __exit__(self, *exc: object) -> None: ...


class SearchBackend(Protocol):
    """One engine's vector store, keyword store, writer and lifecycle of per-base data."""

    name: str

    def vectors(self, kb: BaseRef) -> VectorStore: ...

    def keywords(self, kb: BaseRef) -> KeywordStore: ...

    def lock(self, kb_id: int, timeout: float = 600) -> WriterLock: ...

    def writer(self, kb: BaseRef) -> AbstractContextManager[IndexWriter]:
        """Lock the base, repair what a crashed writer left, and hand out a writer."""
        ...

    def create_base(self, kb: BaseRef) -> None: ...

    def drop_base(self, kb_id: int) -> None: ...

    def keys(self, kb: BaseRef) -> np.ndarray:
        """Every chunk key stored for the base (consistency checks)."""
        ...

    def export(self, kb: BaseRef, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(keys, vectors) of every stored chunk, in batches: what a migration copies."""
        ...


class BlobStore(Protocol):
    """Uploaded files by key (``<kb id>/<job id>/<file name>``); small on purpose so S3 fits behind it."""

    def put(self, key: str, stream: BinaryIO) -> int:
        """Store the stream's bytes under ``key`` atomically; returns the size."""
        ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> None:
        """Remove every blob under ``prefix/`` (a base's or a request's files)."""
        ...

    def exists(self, key: str) -> bool: ...

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A file-system path holding the blob while the context is open (loaders read paths)."""
        ...


def iter_batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size`` (engines limit rows per request)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
