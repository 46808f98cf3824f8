"""The embedder and chunker each knowledge base records, each model loaded once per process.

A base names its embedding model (``knowledge_bases.embedder``, ``core.embedders``); ingestion
embeds its passages, and search embeds queries to it, with that model. ``BaseModels`` keeps one
running embedder (and one chunker with that model's tokenizer) per model for the whole process, so
requests never load a model. Bases recorded before the registry existed name only their model
(``embedding_model``); a custom local model (``KB_EMBEDDING_MODEL``) is the registry key ``""``.
Example: ``models.for_base(kb).embedder.embed_query(["年假有几天？"])``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from core.db import KnowledgeBase
from core.embedders import EmbedderSpec, resolve_embedder, same_vector_space, spec_for_model
from core.errors import ConfigError
from core.protocols import Embedder
from core.settings import Settings
from ingest.chunking import Chunker

CUSTOM = ""  # registry key of the local model folder KB_EMBEDDING_MODEL names


@dataclass(frozen=True)
class Thresholds:
    """Answer-check thresholds in one embedder's cosine scale (``core.embedders.EmbedderSpec``)."""

    min_evidence: float
    support_similarity: float
    quote_similarity: float


@dataclass(frozen=True)
class BaseStages:
    """What ingesting into or searching one base needs: its model's registry key, embedder, chunker."""

    key: str
    embedder: Embedder
    chunker: Chunker


class ModelsForBases(Protocol):
    """Finds the embedder and chunker a base records (``BaseModels``; tests may fix one pair)."""

    @property
    def default_key(self) -> str: ...

    def key_for(self, kb: KnowledgeBase) -> str: ...

    def embedder(self, key: str) -> Embedder: ...

    def chunker(self, key: str) -> Chunker: ...

    def for_base(self, kb: KnowledgeBase) -> BaseStages: ...

    def thresholds(self, key: str) -> Thresholds: ...


def _spec_thresholds(spec: EmbedderSpec) -> Thresholds:
    return Thresholds(spec.min_evidence, spec.support_similarity, spec.quote_similarity)


class FixedModels:
    """One embedder and chunker for every base (unit tests with a fake, benchmarks of one model)."""

    def __init__(
        self, embedder: Embedder, chunker: Chunker, thresholds: Thresholds | None = None, key: str = CUSTOM
    ) -> None:
        self.stages = BaseStages(key, embedder, chunker)
        self._thresholds = thresholds or _spec_thresholds(resolve_embedder("minilm"))

    @property
    def default_key(self) -> str:
        return self.stages.key

    def key_for(self, kb: KnowledgeBase) -> str:
        return self.stages.key

    def embedder(self, key: str) -> Embedder:
        return self.stages.embedder

    def chunker(self, key: str) -> Chunker:
        return self.stages.chunker

    def for_base(self, kb: KnowledgeBase) -> BaseStages:
        return self.stages

    def thresholds(self, key: str) -> Thresholds:
        return self._thresholds


class BaseModels:
    """Per-process cache of the embedders and chunkers that knowledge bases record."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._embedders: dict[str, Embedder] = {}
        self._chunkers: dict[str, Chunker] = {}

    @property
    def default_key(self) -> str:
        """The model new bases get unless they name one: ``KB_EMBEDDING_MODEL``, else ``KB_EMBEDDER``."""
        return CUSTOM if self.settings.embedding_model else resolve_embedder(self.settings.embedder).key

    def spec(self, key: str) -> EmbedderSpec | None:
        """The registry spec of ``key`` (None for the custom local model)."""
        return None if key == CUSTOM else resolve_embedder(key)

    def key_for(self, kb: KnowledgeBase) -> str:
        """The registry key of the model ``kb``'s vectors come from (its default while it has none)."""
        if kb.embedder:
            return resolve_embedder(kb.embedder).key
        if not kb.embedding_model:
            return self.default_key
        spec = spec_for_model(kb.embedding_model)
        if spec is not None:
            return spec.key
        if self.settings.embedding_model and same_vector_space(
            kb.embedding_model, self.embedder(CUSTOM).name
        ):
            return CUSTOM
        raise ConfigError(
            f"knowledge base {kb.name!r} was embedded with the local model {kb.embedding_model!r}, which "
            "this process does not load; set KB_EMBEDDING_MODEL to its folder or re-embed the base "
            f"(`kb bases reembed {kb.name} --embedder NAME`)"
        )

    def embedder(self, key: str) -> Embedder:
        """The running embedder of ``key``, built on first use (its weights load lazily too)."""
        with self._lock:
            if key not in self._embedders:
                from ingest.embedder import embedder_from_settings

                self._embedders[key] = embedder_from_settings(self.settings, self.spec(key))
            return self._embedders[key]

    def chunker(self, key: str) -> Chunker:
        """A chunker that counts tokens with ``key``'s tokenizer and fits passages to its window."""
        with self._lock:
            if key not in self._chunkers:
                from ingest.chunking import StructureAwareChunker
                from ingest.embedder import passage_token_counter

                s = self.settings
                count, window = passage_token_counter(s, self.spec(key))
                max_tokens = min(s.chunk_max_tokens, window)
                self._chunkers[key] = StructureAwareChunker(
                    count,
                    max_tokens=max_tokens,
                    target_tokens=min(s.chunk_target_tokens, max_tokens),
                    overlap_tokens=s.chunk_overlap_tokens,
                )
            return self._chunkers[key]

    def for_base(self, kb: KnowledgeBase) -> BaseStages:
        key = self.key_for(kb)
        return BaseStages(key, self.embedder(key), self.chunker(key))

    def thresholds(self, key: str) -> Thresholds:
        """The answer checks' thresholds calibrated for ``key`` (a custom local model is read on
        MiniLM's scale until someone calibrates it through settings)."""
        return _spec_thresholds(self.spec(key) or resolve_embedder("minilm"))


def with_settings(calibrated: Thresholds, settings: Settings) -> Thresholds:
    """``calibrated`` with any threshold set in settings, which then applies to every model."""
    s = settings
    return Thresholds(
        calibrated.min_evidence if s.answer_min_evidence is None else s.answer_min_evidence,
        calibrated.support_similarity if s.answer_support_similarity is None else s.answer_support_similarity,
        calibrated.quote_similarity if s.answer_quote_similarity is None else s.answer_quote_similarity,
    )
