"""Composition root: builds the stages from settings, once per process, lazily."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import select

from core.catalog import Catalog
from core.db import Database, KnowledgeBase
from core.jobqueue import JobQueue
from core.settings import Settings
from core.stores.base import BlobStore
from core.stores.blob import blob_store
from core.stores.registry import SearchBackends
from ingest.worker import JobWorker


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

    def check_backends(self) -> None:
        """Start-up check: the default backend and every base's backend can be used here."""
        with self.db.session() as session:
            used = set(session.scalars(select(KnowledgeBase.backend).distinct()).all())
        self.backends.check(used | {self.settings.backend})

    @cached_property
    def blobs(self) -> BlobStore:
        return blob_store(self.settings)

    @cached_property
    def worker(self) -> JobWorker:
        """Runs jobs in this process (the API's runner thread, `kb worker`, the embedded CLI)."""
        return JobWorker(self.settings, self.db, self.backends, self.blobs, lambda: self.pipeline)

    @cached_property
    def job_queue(self) -> JobQueue:
        from ingest.queue import InProcessQueue, ProcrastinateQueue

        if self.settings.queue == "procrastinate":
            return ProcrastinateQueue(self.settings)
        return InProcessQueue(self.worker)

    @cached_property
    def models(self):  # type: ignore[no-untyped-def]
        """The embedder and chunker each base records, each loaded once for the process."""
        from ingest.base_models import BaseModels

        return BaseModels(self.settings)

    def use_embedder(self, embedder) -> None:  # type: ignore[no-untyped-def]
        """Serve every base with ``embedder`` (a fast fake in tests), chunked as the default model's."""
        from ingest.base_models import FixedModels

        self.__dict__["models"] = FixedModels(embedder, self.models.chunker(self.models.default_key))
        self.__dict__["embedder"] = embedder

    @cached_property
    def embedder(self):  # type: ignore[no-untyped-def]
        """The embedder new bases get unless they name one (KB_EMBEDDER / KB_EMBEDDING_MODEL)."""
        return self.models.embedder(self.models.default_key)

    @cached_property
    def chunker(self):  # type: ignore[no-untyped-def]
        return self.models.chunker(self.models.default_key)

    @cached_property
    def pipeline(self):  # type: ignore[no-untyped-def]
        from ingest.pipeline import IngestionPipeline

        return IngestionPipeline(
            self.settings, self.db, self.embedder, self.chunker, self.backends, models=self.models
        )

    @cached_property
    def stores(self):  # type: ignore[no-untyped-def]
        from retrieval.candidates import SearchStores

        return SearchStores(self.db, self.backends)

    @cached_property
    def dense(self):  # type: ignore[no-untyped-def]
        from retrieval.dense import DenseRetriever

        return DenseRetriever(self.stores, self.models)

    @cached_property
    def sparse(self):  # type: ignore[no-untyped-def]
        from retrieval.sparse import SparseRetriever

        return SparseRetriever(self.stores)

    @cached_property
    def reranker(self):  # type: ignore[no-untyped-def]
        from retrieval.factory import build_reranker

        return build_reranker(self.settings, self.db)

    @cached_property
    def retriever(self):  # type: ignore[no-untyped-def]
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
        from retrieval.base_groups import base_grouping

        return HybridRetriever(
            self.dense,
            self.sparse,
            reranker=self.reranker,
            config=config,
            grouping=base_grouping(self.stores, self.models),
        )

    @cached_property
    def router(self):  # type: ignore[no-untyped-def]
        from retrieval.fact_source import SqlFactSource
        from retrieval.routing import QueryRouter

        return QueryRouter(SqlFactSource(self.db))

    @cached_property
    def generator(self):  # type: ignore[no-untyped-def]
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
    def condenser(self):  # type: ignore[no-untyped-def]
        """The generator that rewrites follow-up questions. For llama.cpp a second context on the same
        (memory-mapped) model, so condensing never evicts the answer prompt's cached prefix."""
        from generation.backends.llamacpp import LlamaCppGenerator

        if isinstance(self.generator, LlamaCppGenerator):
            return self.generator.sibling(n_ctx=2048)
        return self.generator

    def answer_profile(self, kbs: tuple[str, ...]):  # type: ignore[no-untyped-def]
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
    def answerer(self):  # type: ignore[no-untyped-def]
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
