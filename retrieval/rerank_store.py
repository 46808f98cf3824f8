"""SQL storage of rescoring-model chunk vectors, and the pass that fills them for a knowledge base."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sqlalchemy import select

from core.db import ChunkRow, Database, RerankVector


class RerankVectorStore:
    """Vectors keyed by (chunk id, model); rows vanish with their chunk (foreign-key cascade)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, model: str, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        if not chunk_ids:
            return {}
        with self.db.session() as session:
            rows = session.execute(
                select(RerankVector.chunk_id, RerankVector.vector).where(
                    RerankVector.model == model, RerankVector.chunk_id.in_(chunk_ids)
                )
            ).all()
        return {cid: np.frombuffer(blob, dtype=np.float32) for cid, blob in rows}

    def put(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        """Store vectors of chunks that still exist (a chunk deleted meanwhile is skipped)."""
        if not vectors:
            return
        with self.db.session() as session:
            alive = set(session.scalars(select(ChunkRow.id).where(ChunkRow.id.in_(list(vectors)))).all())
            have = set(
                session.scalars(
                    select(RerankVector.chunk_id).where(
                        RerankVector.model == model, RerankVector.chunk_id.in_(list(alive))
                    )
                ).all()
            )
            session.add_all(
                RerankVector(chunk_id=cid, model=model, vector=np.asarray(vec, np.float32).tobytes())
                for cid, vec in vectors.items()
                if cid in alive and cid not in have
            )

    def missing(self, model: str, kb_id: int) -> list[tuple[str, str]]:
        """(chunk id, text) of the knowledge base's chunks that have no vector yet."""
        with self.db.session() as session:
            have = select(RerankVector.chunk_id).where(RerankVector.model == model)
            rows = session.execute(
                select(ChunkRow.id, ChunkRow.text).where(ChunkRow.kb_id == kb_id, ChunkRow.id.not_in(have))
            ).all()
        return [(cid, text) for cid, text in rows]


def fill_rerank_vectors(
    store: RerankVectorStore,
    model: str,
    embed: Callable[[list[str]], np.ndarray],
    kb_id: int,
    *,
    batch: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed every chunk of the base that lacks a rescoring vector; returns how many were added."""
    todo = store.missing(model, kb_id)
    for start in range(0, len(todo), batch):
        part = todo[start : start + batch]
        vectors = embed([text for _, text in part])
        store.put(model, {cid: vec for (cid, _), vec in zip(part, vectors, strict=True)})
        if progress:
            progress(min(start + batch, len(todo)), len(todo))
    return len(todo)
