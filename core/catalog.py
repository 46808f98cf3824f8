"""Knowledge-base bookkeeping in SQL: create, find, list, delete (with the base's search data)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from core.db import Database, DocumentRow, KnowledgeBase
from core.embedders import EmbedderSpec, resolve_embedder
from core.errors import ConflictError, NotFoundError
from core.stores.base import BaseRef
from core.stores.registry import SearchBackends, validate_backend
from core.types import EVERYONE

SCENARIOS = ("customer_service", "finance", "retail", "employee")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def validate_kb_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            f"invalid knowledge base name {name!r}: use letters, digits, '.', '_' or '-' (max 128), "
            "starting with a letter or digit"
        )
    return name


def validate_scenario(scenario: str) -> str:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    return scenario


def embedder_record(spec: EmbedderSpec) -> dict[str, Any]:
    """The columns of ``knowledge_bases`` that record ``spec`` as a base's embedding model."""
    return {
        "embedder": spec.key,
        "embedding_model": spec.model,
        "dim": spec.dim,
        "embed_normalize": spec.normalize,
        "query_prompt": spec.query_prompt,
        "document_prompt": spec.document_prompt,
    }


def base_ref(kb: KnowledgeBase, dim: int = 0) -> BaseRef:
    """What a store needs of a base; ``dim`` stands in until the base's record has one."""
    return BaseRef(kb.id, kb.dim or dim)


class Catalog:
    """Create, look up, list and delete knowledge bases (rows and search data together)."""

    def __init__(self, db: Database, backends: SearchBackends) -> None:
        self.db = db
        self.backends = backends

    def create(
        self,
        name: str,
        scenario: str = "employee",
        description: str = "",
        read_groups: Sequence[str] = (EVERYONE,),
        ocr: bool = True,
        backend: str | None = None,
        embedder: str | None = None,
    ) -> KnowledgeBase:
        """A new, empty base. ``read_groups``: who may read it (``everyone``; ``[]`` = admins only);
        ``ocr``: recognise text in scanned pages and images while ingesting; ``backend``: where its
        search data lives (default: ``KB_BACKEND``); ``embedder``: the embedding model of its vectors
        (``core.embedders`` name or role; default: ``KB_EMBEDDER``, or the ``KB_EMBEDDING_MODEL`` folder,
        recorded at the first ingest)."""
        validate_kb_name(name)
        validate_scenario(scenario)
        backend = validate_backend(backend or self.backends.settings.backend)
        settings = self.backends.settings
        spec = None
        if embedder is not None or not settings.embedding_model:
            spec = resolve_embedder(embedder or settings.embedder)
        self.backends.get(backend)  # fails now, naming the extra, rather than at the first upload
        with self.db.session() as session:
            if session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name)):
                raise ConflictError(f"knowledge base {name!r} already exists")
            kb = KnowledgeBase(
                name=name,
                scenario=scenario,
                description=description,
                read_groups=sorted(set(read_groups)),
                ocr_enabled=ocr,
                backend=backend,
                # dim is recorded with the first vectors: until then stores hold nothing to search
                **({**embedder_record(spec), "dim": 0} if spec is not None else {}),
            )
            session.add(kb)
            session.flush()
            return kb

    def get(self, name: str) -> KnowledgeBase:
        with self.db.session() as session:
            kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name))
            if kb is None:
                raise NotFoundError(
                    f"knowledge base {name!r} does not exist; create it with `kb bases create {name}`"
                )
            return kb

    def list(self) -> list[dict[str, object]]:
        """Each base with its document and chunk counts."""
        with self.db.session() as session:
            counts = dict(
                session.execute(select(DocumentRow.kb_id, func.count()).group_by(DocumentRow.kb_id)).all()
            )
            chunk_counts = dict(
                session.execute(
                    select(DocumentRow.kb_id, func.coalesce(func.sum(DocumentRow.chunk_count), 0))
                    .where(DocumentRow.status == "ready")
                    .group_by(DocumentRow.kb_id)
                ).all()
            )
            rows = session.scalars(select(KnowledgeBase).order_by(KnowledgeBase.name)).all()
            return [
                {
                    "id": kb.id,
                    "name": kb.name,
                    "scenario": kb.scenario,
                    "description": kb.description,
                    "read_groups": list(kb.read_groups or []),
                    "ocr": kb.ocr_enabled,
                    "backend": kb.backend,
                    "embedder": kb.embedder or kb.embedding_model,
                    "embedding_model": kb.embedding_model,
                    "dim": kb.dim,
                    "dense_prior": kb.dense_prior,
                    "documents": int(counts.get(kb.id, 0)),
                    "chunks": int(chunk_counts.get(kb.id, 0)),
                    "index_version": kb.index_version,
                    "created_at": kb.created_at.isoformat(),
                }
                for kb in rows
            ]

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        scenario: str | None = None,
        read_groups: Sequence[str] | None = None,
        ocr: bool | None = None,
    ) -> KnowledgeBase:
        """Change a base's description, scenario or read groups (takes effect on the next search),
        or whether its next ingests OCR images (documents already indexed stay as they are)."""
        with self.db.session() as session:
            kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name))
            if kb is None:
                raise NotFoundError(f"knowledge base {name!r} does not exist")
            if description is not None:
                kb.description = description
            if scenario is not None:
                kb.scenario = validate_scenario(scenario)
            if read_groups is not None:
                kb.read_groups = sorted(set(read_groups))
            if ocr is not None:
                kb.ocr_enabled = ocr
            return kb

    def set_dense_prior(self, name: str, dense_prior: float | None) -> KnowledgeBase:
        """Record the dense share of the fusion prior calibrated on the base's own judged questions
        (``kb eval retrieval --calibrate``); None goes back to the configured weights."""
        if dense_prior is not None and not 0.0 <= dense_prior <= 1.0:
            raise ValueError(f"a dense prior is a share between 0 and 1, not {dense_prior}")
        with self.db.session() as session:
            kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name))
            if kb is None:
                raise NotFoundError(f"knowledge base {name!r} does not exist")
            kb.dense_prior = dense_prior
            return kb

    def delete(self, name: str) -> None:
        kb = self.get(name)
        backend = self.backends.get(kb.backend)
        with backend.lock(kb.id):
            with self.db.session() as session:
                session.delete(session.get(KnowledgeBase, kb.id))
            backend.drop_base(kb.id)
