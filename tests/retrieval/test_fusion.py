"""Reciprocal-rank fusion, near-duplicate removal, MMR, and qrels key mapping."""

from __future__ import annotations

import numpy as np

from core.types import Hit
from retrieval.evaluation import hit_keys
from retrieval.fusion import deduplicate, mmr, reciprocal_rank_fusion


def hit(cid: str, text: str = "", **kw) -> Hit:  # type: ignore[no-untyped-def]
    base = dict(
        chunk_id=cid,
        document_id="d" + cid,
        kb="kb",
        text=text or f"text {cid}",
        source="a.pdf",
        title="A",
        page=None,
        heading_path=(),
        char_start=0,
        char_end=1,
    )
    base.update(kw)
    return Hit(**base)  # type: ignore[arg-type]


def test_rrf_rewards_agreement_and_keeps_both_scores() -> None:
    dense = [hit("a", dense_score=0.9), hit("b", dense_score=0.8), hit("c", dense_score=0.7)]
    sparse = [hit("c", sparse_score=12.0), hit("d", sparse_score=9.0), hit("a", sparse_score=3.0)]
    fused = reciprocal_rank_fusion([dense, sparse], k=60)
    assert [h.chunk_id for h in fused][:2] == ["a", "c"]
    a = fused[0]
    assert a.dense_score == 0.9 and a.sparse_score == 3.0
    assert a.fused_score == 1 / 61 + 1 / 63
    weighted = reciprocal_rank_fusion([dense, sparse], weights=[0.0, 1.0])
    assert weighted[0].chunk_id == "c"


def test_deduplicate_drops_near_copies_only() -> None:
    text = "Heading\nEmployees may carry over up to five days of unused vacation into the next year."
    hits = [hit("a", text), hit("b", text + " "), hit("c", "Heading\nSomething else entirely about pay.")]
    assert [h.chunk_id for h in deduplicate(hits)] == ["a", "c"]
    assert len(deduplicate(hits, threshold=1.01)) == 3


def test_mmr_prefers_diverse_hits() -> None:
    hits = [hit("a"), hit("b"), hit("c")]
    vectors = np.array([[1, 0, 0], [0.99, 0.14, 0], [0.7, 0, 0.71]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = np.array([1.0, 0.1, 0.2], np.float32)
    query /= np.linalg.norm(query)
    assert [h.chunk_id for h in mmr(hits, vectors, query, k=2, lambda_=1.0)] == ["b", "a"]  # relevance only
    assert [h.chunk_id for h in mmr(hits, vectors, query, k=2, lambda_=0.5)] == ["b", "c"]


def test_hit_keys_per_unit() -> None:
    pdf = hit("x", source="docs/plan.pdf", page=7, metadata={"page_end": 8})
    assert hit_keys(pdf, "page") == ["plan.pdf#page=7", "plan.pdf#page=8"]
    assert hit_keys(pdf, "doc") == ["plan.pdf", "docs/plan.pdf"]
    assert hit_keys(pdf, "chunk") == ["x"]
    record = hit("y", source="corpus.jsonl#q1", external_id="q1")
    assert hit_keys(record, "doc") == ["q1"]


def test_convex_fusion_keeps_score_margins() -> None:
    from retrieval.fusion import convex_fusion

    dense = [hit("a", dense_score=0.80), hit("b", dense_score=0.78), hit("c", dense_score=0.20)]
    sparse = [hit("c", sparse_score=10.0), hit("b", sparse_score=9.0)]
    fused = convex_fusion([dense, sparse], weights=[0.6, 0.4])
    # a is missing from BM25, so it gets BM25's lowest normalised score (0.9), not zero
    assert [h.chunk_id for h in fused] == ["a", "b", "c"]
    a, b, c = fused
    assert abs(a.fused_score - (0.6 * 1.0 + 0.4 * 0.9)) < 1e-9
    assert abs(b.fused_score - (0.6 * 0.78 / 0.80 + 0.4 * 0.9)) < 1e-9
    assert b.dense_score == 0.78 and b.sparse_score == 9.0
    assert abs(c.fused_score - (0.6 * 0.25 + 0.4 * 1.0)) < 1e-9
    assert convex_fusion([[], []]) == []


def test_confidence_is_high_for_a_clear_winner_and_zero_for_a_flat_list() -> None:
    from retrieval.fusion import confidence

    peaked = np.array([9.0, 2.0, 1.9, 1.8, 1.7, 1.6])
    flat = np.array([0.51, 0.50, 0.50, 0.49, 0.49, 0.48])
    assert confidence(peaked) > 2.0 > confidence(flat) > 0.0
    assert confidence(np.array([1.0, 1.0, 1.0])) == 0.0 and confidence(np.array([3.0, 1.0])) == 0.0


def test_adaptive_weights_follow_the_confident_list() -> None:
    from retrieval.fusion import adaptive_weights

    peaked = [hit("a", sparse_score=12.0)] + [hit(f"s{i}", sparse_score=2.0 - i * 0.01) for i in range(9)]
    flat = [hit(f"d{i}", dense_score=0.80 - i * 0.002) for i in range(10)]
    wd, ws = adaptive_weights(flat, peaked)
    assert ws > 0.6 and abs(wd + ws - 1.0) < 1e-9
    # the prior scales the confidences: a strong dense prior shifts weight back to dense
    assert adaptive_weights(flat, peaked, (0.9, 0.1))[0] > wd
    # nothing to go on (empty lists): the normalised prior
    assert adaptive_weights([], [], (0.6, 0.4)) == (0.6, 0.4)


def test_zscore_fusion_standardises_each_list_and_floors_missing_chunks() -> None:
    from retrieval.fusion import zscore_fusion

    dense = [hit("a", dense_score=0.9), hit("b", dense_score=0.8), hit("c", dense_score=0.7)]
    sparse = [hit("c", sparse_score=30.0), hit("d", sparse_score=20.0), hit("e", sparse_score=10.0)]
    fused = zscore_fusion(dense, sparse, (0.5, 0.5))
    by_id = {h.chunk_id: h for h in fused}
    z = 1.0 / np.std([0.9, 0.8, 0.7]) * 0.1  # one step in either list is the same z distance
    assert abs(by_id["c"].fused_score - 0.5 * (-z) - 0.5 * z) < 1e-9  # last in dense, first in BM25
    assert abs(by_id["a"].fused_score - (0.5 * z + 0.5 * -z)) < 1e-9  # missing from BM25: its floor
    assert by_id["c"].dense_score == 0.7 and by_id["c"].sparse_score == 30.0
    assert zscore_fusion([], [], (0.5, 0.5)) == []


def test_fuse_dispatches_and_reports_weights() -> None:
    from retrieval.fusion import fuse

    dense = [hit("a", dense_score=0.9), hit("b", dense_score=0.5), hit("c", dense_score=0.4)]
    sparse = [hit("b", sparse_score=5.0), hit("c", sparse_score=4.0)]
    _, used = fuse(dense, sparse, method="convex", weights=(0.6, 0.4))
    assert used == (0.6, 0.4)
    fused, used = fuse(dense, sparse, method="rrf", weights=(1.0, 1.0), rrf_k=60)
    assert fused[0].chunk_id == "b" and used == (1.0, 1.0)
    fused, used = fuse(dense, sparse, method="adaptive", weights=(0.5, 0.5))
    assert abs(sum(used) - 1.0) < 1e-9 and {h.chunk_id for h in fused} == {"a", "b", "c"}
