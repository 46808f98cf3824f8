"""Composition root: builds the stages from settings, once per process, lazily."""

from __future__ import annotations

from functools import cached_property

from core.catalog import Catalog
from core.db import Database
from core.index_store import IndexStore
from core.models import embedding_model_dir
from core.settings import Settings


class AppContext:
    """Everything a command or request handler needs; heavy parts load on first use."""

    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.sqlalchemy_url)
        if migrate:
            self.db.upgrade()
        self.store = IndexStore(settings)
        self.catalog = Catalog(self.db, self.store)

    @cached_property
    def embedder(self):  # type: ignore[no-untyped-def]
        from ingest.embedder import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(
            embedding_model_dir(self.settings.embedding_model),
            batch_size=self.settings.embedding_batch_size,
            device=self.settings.embedding_device,
        )

    @cached_property
    def chunker(self):  # type: ignore[no-untyped-def]
        from ingest.chunking import StructureAwareChunker, hf_token_counter

        return StructureAwareChunker(
            hf_token_counter(embedding_model_dir(self.settings.embedding_model)),
            max_tokens=self.settings.chunk_max_tokens,
            target_tokens=self.settings.chunk_target_tokens,
            overlap_tokens=self.settings.chunk_overlap_tokens,
        )

    @cached_property
    def pipeline(self):  # type: ignore[no-untyped-def]
        from ingest.pipeline import IngestionPipeline

        return IngestionPipeline(self.settings, self.db, self.embedder, self.chunker)

    @cached_property
    def snapshots(self):  # type: ignore[no-untyped-def]
        from retrieval.snapshot import SnapshotCache

        return SnapshotCache(self.db, self.store)

    @cached_property
    def dense(self):  # type: ignore[no-untyped-def]
        from retrieval.dense import DenseRetriever

        return DenseRetriever(self.snapshots, self.embedder)

    @cached_property
    def sparse(self):  # type: ignore[no-untyped-def]
        from retrieval.sparse import SparseRetriever

        return SparseRetriever(self.snapshots)

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
        return HybridRetriever(
            self.dense, self.sparse, reranker=self.reranker, embedder=self.embedder, config=config
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
    def answerer(self):  # type: ignore[no-untyped-def]
        from generation.answerer import AnswerConfig, Answerer

        s = self.settings
        config = AnswerConfig(
            k=s.answer_k, min_evidence=s.answer_min_evidence, max_tokens=s.answer_max_tokens
        )
        return Answerer(self.retriever, self.generator, config)
