"""Change a knowledge base's embedding model: an explicit job, never a silent rebuild.

Every chunk's text (from SQL) is embedded with the new model while the base keeps answering from
its old vectors; then one SQL transaction records the new model, the old search data is replaced
and the result is checked against SQL. The chunks stay as they were cut (re-ingest the files to cut
them for the new model's window: a chunk longer than it is embedded from its start). A run that died
during the switch leaves the base naming the new model with vectors missing (``kb bases check``
says which); running the same command again finishes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.catalog import Catalog, embedder_record
from core.db import Database, KnowledgeBase
from core.embedders import resolve_embedder
from core.errors import ConfigError, ConflictError, KBError
from core.stores.base import BaseRef, ChunkEntry, SearchBackend
from core.stores.registry import SearchBackends
from ingest.base_models import ModelsForBases
from ingest.migrate import chunk_records

ReembedProgress = Callable[[str, int, int], None]
"""progress(phase: "embedding" | "writing", chunks done, total chunks)"""


@dataclass(frozen=True)
class ReembedReport:
    name: str
    previous: str
    embedder: str
    dim: int
    chunks: int


class BaseReembedder:
    """Re-embeds a base's chunks with another registry model and switches the base to it."""

    def __init__(self, db: Database, backends: SearchBackends, models: ModelsForBases) -> None:
        self.db = db
        self.backends = backends
        self.models = models
        self.catalog = Catalog(db, backends)

    def reembed(
        self, name: str, embedder: str, *, progress: ReembedProgress | None = None, batch: int = 256
    ) -> ReembedReport:
        kb = self.catalog.get(name)
        spec = resolve_embedder(embedder)
        backend = self.backends.get(kb.backend)
        previous = kb.embedder or kb.embedding_model or "(none yet)"
        chunks, _ = chunk_records(self.db, kb.id)
        if kb.embedder == spec.key and self._complete(kb, backend, chunks):
            raise ConflictError(f"knowledge base {name!r} already uses the {spec.key} embedder")
        model = self.models.embedder(spec.key)
        keys = sorted(chunks)
        vectors = np.zeros((len(keys), spec.dim), np.float32)
        for start in range(0, len(keys), batch):
            part = keys[start : start + batch]
            out = model.embed([chunks[k][1] for k in part])
            if out.shape[1] != spec.dim:
                raise ConfigError(
                    f"{spec.key} gave {out.shape[1]}-dimensional vectors, its record says {spec.dim}; "
                    f"{name!r} is unchanged"
                )
            vectors[start : start + len(part)] = out
            if progress:
                progress("embedding", start + len(part), len(keys))
        self._switch(kb, spec.key, backend, dict(zip(keys, vectors, strict=True)), progress, batch)
        return ReembedReport(name, previous, spec.key, spec.dim, len(keys))

    def _complete(
        self, kb: KnowledgeBase, backend: SearchBackend, chunks: dict[int, tuple[str, str]]
    ) -> bool:
        """Whether the base's store holds a vector for every chunk SQL has (an earlier run finished)."""
        if not kb.dim:
            return not chunks
        stored = backend.keys(BaseRef(kb.id, kb.dim))
        return not len(np.setdiff1d(np.asarray(sorted(chunks), np.int64), stored))

    def _switch(
        self,
        kb: KnowledgeBase,
        key: str,
        backend: SearchBackend,
        vectors: dict[int, np.ndarray],
        progress: ReembedProgress | None,
        batch: int,
    ) -> None:
        """Record the new model, replace the search data with the new vectors, check it."""
        spec = resolve_embedder(key)
        with self.db.session() as session:
            row = session.get(KnowledgeBase, kb.id)
            assert row is not None
            for column, value in embedder_record(spec).items():
                setattr(row, column, value)
            row.dense_prior = None  # calibrated for the old model's scores
        ref = BaseRef(kb.id, spec.dim)
        backend.drop_base(kb.id)
        backend.create_base(ref)
        chunks, docs = chunk_records(self.db, kb.id)  # re-read: an ingest may have run meanwhile
        todo = [k for k in sorted(chunks) if k in vectors]
        with backend.writer(ref) as writer:
            for start in range(0, len(todo), batch):
                entries = []
                for k in todo[start : start + batch]:
                    doc_id, body = chunks[k]
                    groups, tags, meta = docs[doc_id]
                    entries.append(ChunkEntry(k, doc_id, body, vectors[k], groups, tags, meta))
                with self.db.session() as session:
                    writer.upsert(entries)
                    writer.stage(session, session.get(KnowledgeBase, kb.id))
                writer.committed()
                if progress:
                    progress("writing", start + len(entries), len(todo))
        missing = len(chunks) - len(todo)
        if missing:
            raise KBError(
                f"{missing} chunks of {kb.name!r} were added while it was re-embedded and have no "
                f"vector yet; run `kb bases reembed {kb.name} --embedder {key}` again"
            )
