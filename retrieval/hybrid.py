"""Hybrid retrieval: dense + BM25, fused by reciprocal rank, de-duplicated, optionally reranked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

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


@dataclass(frozen=True)
class BaseGroup:
    """Searched bases whose lists can be fused together: one embedding model, one fusion prior.

    ``dense_prior``: the dense share of the fusion prior calibrated on these bases' own questions
    (None: the configured weights); ``embedder``: their model (for MMR)."""

    kbs: tuple[str, ...]
    dense_prior: float | None = None
    embedder: Embedder | None = None


Grouping = Callable[[tuple[str, ...]], list[BaseGroup]]
"""Splits the searched bases into groups to fuse separately (``retrieval.base_groups``)."""


class HybridRetriever:
    """Dense and sparse candidates → fusion (adaptive, convex or RRF) → near-duplicate removal →
    (MMR) → (rerank).

    Bases of different embedding models (or with their own calibrated fusion prior) are fused per
    group, since cosines of two models are not comparable, and the fused lists are then merged by
    fused score (standardised, so comparable across groups)."""

    def __init__(
        self,
        dense: CandidateRetriever,
        sparse: CandidateRetriever,
        *,
        reranker: Reranker | None = None,
        embedder: Embedder | None = None,
        config: HybridConfig | None = None,
        grouping: Grouping | None = None,
    ) -> None:
        self.dense = dense
        self.sparse = sparse
        self.reranker = reranker
        self.embedder = embedder
        self.config = config or HybridConfig()
        self.grouping = grouping

    def groups(self, kbs: tuple[str, ...]) -> list[BaseGroup]:
        """The groups of ``kbs`` fused separately (one group without a grouping)."""
        return self.grouping(kbs) if self.grouping is not None else [BaseGroup(kbs, None, self.embedder)]

    def fused_candidates(
        self, query: str, *, n: int, filters: SearchFilters, principal: Principal
    ) -> tuple[list[Hit], list[BaseGroup]]:
        """Up to ``n`` fused candidates (no text yet) over every group of the searched bases."""
        cfg = self.config
        groups = self.groups(filters.kbs)
        fused: list[Hit] = []
        for group in groups:
            part = replace(filters, kbs=group.kbs) if len(groups) > 1 else filters
            dense = self.dense.candidates(query, k=n, filters=part, principal=principal)
            sparse = self.sparse.candidates(query, k=n, filters=part, principal=principal)
            prior = (cfg.dense_weight, cfg.sparse_weight)
            if group.dense_prior is not None:
                prior = (group.dense_prior, 1.0 - group.dense_prior)
            fused += fuse(dense, sparse, method=cfg.fusion, weights=prior, rrf_k=cfg.rrf_k)[0]
        if len(groups) > 1:
            fused.sort(key=lambda h: -(h.fused_score or 0.0))
        return fused[:n] if len(groups) > 1 else fused, groups

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
        fused, groups = self.fused_candidates(query, n=n, filters=filters, principal=principal)
        # Stores gave keys and scores; the fused candidates' text is read from SQL once, here.
        fused = self.dense.hydrate(fused, principal, filters)
        pool = max(k, cfg.rerank_top_n) if rerank and self.reranker else k
        if cfg.dedupe_threshold < 1.0:
            limit = pool * 2 if cfg.use_mmr else pool
            fused = deduplicate(fused, threshold=cfg.dedupe_threshold, limit=limit)
        embedder = groups[0].embedder if groups and groups[0].embedder is not None else self.embedder
        if cfg.use_mmr and embedder is not None and fused:
            head = fused[: pool * 2]  # one model embeds them all, whichever base each comes from
            vectors = embedder.embed([h.text for h in head])
            query_vec = embedder.embed_query([query])[0]
            fused = mmr(head, np.asarray(vectors), query_vec, k=pool, lambda_=cfg.mmr_lambda)
        if rerank and self.reranker is not None:
            top_n = cfg.rerank_top_n
            reranked = self.reranker.rerank(query, fused[:top_n], top_k=top_n)
            return (reranked + fused[top_n:])[:k]
        return fused[:k]
