"""Hybrid retrieval: dense + BM25, fused by reciprocal rank, de-duplicated, optionally reranked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.protocols import Embedder
from core.types import Hit, Principal
from retrieval.base import CandidateRetriever, Reranker
from retrieval.filters import SearchFilters
from retrieval.fusion import deduplicate, fuse, mmr


@dataclass(frozen=True)
class HybridConfig:
    """Knobs of the hybrid retriever (taken from Settings by the composition root)."""

    candidates: int = 50
    fusion: str = "adaptive"
    rrf_k: int = 60
    dense_weight: float = 0.5
    sparse_weight: float = 0.5
    dedupe_threshold: float = 0.9
    use_mmr: bool = False
    mmr_lambda: float = 0.7
    rerank_top_n: int = 20


class HybridRetriever:
    """Dense and sparse candidates → fusion (convex or RRF) → near-duplicate removal → (MMR) → (rerank)."""

    def __init__(
        self,
        dense: CandidateRetriever,
        sparse: CandidateRetriever,
        *,
        reranker: Reranker | None = None,
        embedder: Embedder | None = None,
        config: HybridConfig | None = None,
    ) -> None:
        self.dense = dense
        self.sparse = sparse
        self.reranker = reranker
        self.embedder = embedder
        self.config = config or HybridConfig()

    def search(
        self,
        query: str,
        *,
        k: int,
        filters: SearchFilters,
        principal: Principal | None,
        rerank: bool = True,
    ) -> list[Hit]:
        if principal is None or not query.strip() or k <= 0:
            return []
        cfg = self.config
        n = max(k, cfg.candidates)
        dense = self.dense.candidates(query, k=n, filters=filters, principal=principal)
        sparse = self.sparse.candidates(query, k=n, filters=filters, principal=principal)
        weights = (cfg.dense_weight, cfg.sparse_weight)
        fused, _ = fuse(dense, sparse, method=cfg.fusion, weights=weights, rrf_k=cfg.rrf_k)
        # Stores gave keys and scores; the fused candidates' text is read from SQL once, here.
        fused = self.dense.hydrate(fused, principal, filters)
        pool = max(k, cfg.rerank_top_n) if rerank and self.reranker else k
        if cfg.dedupe_threshold < 1.0:
            limit = pool * 2 if cfg.use_mmr else pool
            fused = deduplicate(fused, threshold=cfg.dedupe_threshold, limit=limit)
        if cfg.use_mmr and self.embedder is not None and fused:
            head = fused[: pool * 2]
            vectors = self.embedder.embed([h.text for h in head])
            query_vec = self.embedder.embed_query([query])[0]
            fused = mmr(head, np.asarray(vectors), query_vec, k=pool, lambda_=cfg.mmr_lambda)
        if rerank and self.reranker is not None:
            top_n = cfg.rerank_top_n
            reranked = self.reranker.rerank(query, fused[:top_n], top_k=top_n)
            return (reranked + fused[top_n:])[:k]
        return fused[:k]
