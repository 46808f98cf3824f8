"""Composition root: builds the stages from settings, once per process, lazily.

Every part is typed; the heavy ones (embedders, retrievers, the LLM) are imported only when first
used, so a process that never asks a question never imports torch. Tests and benchmarks swap in
their own parts with ``override`` before use, never by writing into the instance.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from core.catalog import Catalog
from core.db import Database, KnowledgeBase
from core.jobqueue import JobQueue
from core.protocols import Embedder
from core.settings import Settings
from core.stores.base import BlobStore
from core.stores.blob import blob_store
from core.stores.registry import SearchBackends
from ingest.worker import JobWorker

if TYPE_CHECKING:
    from generation.answerer import Answerer, AnswerProfile
    from generation.backends.base import Generator
    from ingest.base_models import ModelsForBases
    from ingest.chunking import Chunker
    from ingest.pipeline import IngestionPipeline
    from retrieval.base import Reranker
    from retrieval.candidates import SearchStores
    from retrieval.dense import DenseRetriever
    from retrieval.hybrid import HybridRetriever
    from retrieval.routing import QueryRouter
    from retrieval.sparse import SparseRetriever

# Parts composed from the models and the generator: ``override`` drops them, so they are built again
# from the parts given.
_COMPOSED = ("pipeline", "dense", "retriever", "condenser", "answerer")


class AppContext:
    """Everything a command or request handler needs; heavy parts load on first use."""

    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.sqlalchemy_url)
        if migrate:
            self.db.upgrade()
        self.backends = SearchBackends(settings, self.db)
        self.catalog = Catalog(self.db, self.backends)

    def override(
        self,
        *,
        models: ModelsForBases | None = None,
        embedder: Embedder | None = None,
        chunker: Chunker | None = None,
        reranker: Reranker | None = None,
        generator: Generator | None = None,
        condenser: Generator | None = None,
    ) -> None:
        """Serve the parts given instead of building them from settings (fakes in tests, a loaded
        model in benchmarks); the parts composed from them are built again on their next use."""
        given: dict[str, Any] = {
            "models": models,
            "embedder": embedder,
            "chunker": chunker,
            "reranker": reranker,
            "generator": generator,
            "condenser": condenser,
        }
        for name in _COMPOSED:
            self.__dict__.pop(name, None)  # a cached_property's value lives in the instance dict
        for name, part in given.items():
            if part is not None:
                self.__dict__[name] = part

    def use_embedder(self, embedder: Embedder) -> None:
        """Serve every base with ``embedder`` (a fast fake in tests), chunked as the default model's."""
        from ingest.base_models import FixedModels

        chunker = self.models.chunker(self.models.default_key)
        self.override(models=FixedModels(embedder, chunker), embedder=embedder)

    def check_backends(self) -> None:
        """Start-up check: the default backend and every base's backend can be used here."""
        with self.db.session() as session:
            used = set(session.scalars(select(KnowledgeBase.backend).distinct()).all())
        self.backends.check(used | {self.settings.backend})

    @cached_property
    def blobs(self) -> BlobStore:
        """Uploaded files: a local folder or S3-compatible storage."""
        return blob_store(self.settings)

    @cached_property
    def worker(self) -> JobWorker:
        """Runs jobs in this process (the API's runner thread, `kb worker`, the embedded CLI)."""
        return JobWorker(self.settings, self.db, self.backends, self.blobs, lambda: self.pipeline)

    @cached_property
    def job_queue(self) -> JobQueue:
        """Hands jobs to workers: this process's worker, or procrastinate's PostgreSQL queue."""
        from ingest.queue import InProcessQueue, ProcrastinateQueue

        if self.settings.queue == "procrastinate":
            return ProcrastinateQueue(self.settings)
        return InProcessQueue(self.worker)

    @cached_property
    def models(self) -> ModelsForBases:
        """The embedder and chunker each base records, each loaded once for the process."""
        from ingest.base_models import BaseModels

        return BaseModels(self.settings)

    @cached_property
    def embedder(self) -> Embedder:
        """The embedder new bases get unless they name one (KB_EMBEDDER / KB_EMBEDDING_MODEL)."""
        return self.models.embedder(self.models.default_key)

    @cached_property
    def chunker(self) -> Chunker:
        """The chunker of the default embedding model (its tokenizer counts the tokens)."""
        return self.models.chunker(self.models.default_key)

    @cached_property
    def pipeline(self) -> IngestionPipeline:
        """Loads, chunks, embeds and indexes files into a base."""
        from ingest.pipeline import IngestionPipeline

        return IngestionPipeline(
            self.settings, self.db, self.embedder, self.chunker, self.backends, models=self.models
        )

    @cached_property
    def stores(self) -> SearchStores:
        """The search stores of every base, with the permission and metadata filters applied."""
        from retrieval.candidates import SearchStores

        return SearchStores(self.db, self.backends)

    @cached_property
    def dense(self) -> DenseRetriever:
        """Vector search, each base queried with its own embedder."""
        from retrieval.dense import DenseRetriever

        return DenseRetriever(self.stores, self.models)

    @cached_property
    def sparse(self) -> SparseRetriever:
        """Keyword search."""
        from retrieval.sparse import SparseRetriever

        return SparseRetriever(self.stores)

    @cached_property
    def reranker(self) -> Reranker | None:
        """The reranker KB_RERANKER names (None: no reranking)."""
        from retrieval.factory import build_reranker

        return build_reranker(self.settings, self.db)

    @cached_property
    def retriever(self) -> HybridRetriever:
        """Dense and keyword search fused, de-duplicated and reranked, as the settings say."""
        from retrieval.base_groups import base_grouping
        from retrieval.hybrid import HybridConfig, HybridRetriever

        s = self.settings
        config = HybridConfig(
            candidates=s.retrieval_candidates,
            fusion=s.fusion,
            rrf_k=s.rrf_k,
            dense_weight=s.dense_weight,
            sparse_weight=s.sparse_weight,
            dedupe_threshold=s.dedupe_threshold,
            use_mmr=s.mmr,
            mmr_lambda=s.mmr_lambda,
            rerank_top_n=s.rerank_top_n,
        )
        return HybridRetriever(
            self.dense,
            self.sparse,
            reranker=self.reranker,
            config=config,
            grouping=base_grouping(self.stores, self.models),
        )

    @cached_property
    def router(self) -> QueryRouter:
        """Reads the facts a question names (company, period) to narrow its search."""
        from retrieval.fact_source import SqlFactSource
        from retrieval.routing import QueryRouter

        return QueryRouter(SqlFactSource(self.db))

    @cached_property
    def generator(self) -> Generator:
        """The LLM KB_LLM_BACKEND names; nothing loads until its first answer."""
        from generation.backends.factory import build_generator

        s = self.settings
        return build_generator(
            s.llm_backend,
            model_path=s.llm_model_path,
            profile=s.llm_profile,
            models_dir=s.data_dir / "models",
            n_ctx=s.llm_ctx,
            n_threads=s.llm_threads,
            device=s.embedding_device,
            base_url=s.llm_base_url,
            model=s.llm_model,
            api_key=s.llm_api_key,
        )

    @cached_property
    def condenser(self) -> Generator:
        """The generator that rewrites follow-up questions. For llama.cpp a second context on the same
        (memory-mapped) model, so condensing never evicts the answer prompt's cached prefix."""
        from generation.backends.llamacpp import LlamaCppGenerator

        if isinstance(self.generator, LlamaCppGenerator):
            return self.generator.sibling(n_ctx=2048)
        return self.generator

    def answer_profile(self, kbs: tuple[str, ...]) -> AnswerProfile:
        """The embedder and answer-check thresholds of the first of ``kbs`` (the base asked)."""
        from generation.answerer import AnswerProfile
        from ingest.base_models import with_settings

        key = self.models.key_for(self.stores.bases(kbs[:1])[0]) if kbs else self.models.default_key
        limits = with_settings(self.models.thresholds(key), self.settings)
        return AnswerProfile(
            self.models.embedder(key).embed,
            min_evidence=limits.min_evidence,
            support_similarity=limits.support_similarity,
            quote_similarity=limits.quote_similarity,
        )

    @cached_property
    def answerer(self) -> Answerer:
        """Retrieval, the LLM and the answer checks together: what a question goes to."""
        from generation.answerer import AnswerConfig, Answerer

        s = self.settings
        config = AnswerConfig(
            k=s.answer_k, max_tokens=s.answer_max_tokens, context_tokens=s.answer_context_tokens
        )
        return Answerer(
            self.retriever,
            self.generator,
            config,
            embed=self.embedder.embed,
            condenser=self.condenser,
            router=self.router,
            profiles=self.answer_profile,
        )
