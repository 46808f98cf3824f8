"""The bundled all-MiniLM-L6-v2 embedder, loaded from disk with the hub offline."""

from __future__ import annotations

import numpy as np
import pytest

from core.models import bundled_embedding_model_dir
from ingest.embedder import HashingEmbedder, SentenceTransformerEmbedder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(bundled_embedding_model_dir(), batch_size=16)


@pytest.mark.parametrize("make", [lambda: HashingEmbedder(), None], ids=["hashing", "minilm"])
def test_embedder_protocol(make, embedder: SentenceTransformerEmbedder) -> None:  # type: ignore[no-untyped-def]
    emb = make() if make else embedder
    vectors = emb.embed(["refund within 30 days", "parental leave policy", ""])
    assert vectors.shape == (3, emb.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-4)
    assert emb.embed([]).shape == (0, emb.dim)
    assert np.allclose(emb.embed(["refund within 30 days"])[0], vectors[0], atol=1e-5)


def test_minilm_is_semantic(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.dim == 384 and embedder.max_tokens == 256
    q, near, far = embedder.embed(
        [
            "How many days do I have to return an item?",
            "Products may be returned for a refund within 30 days of purchase.",
            "The quarterly revenue of the data center segment grew strongly.",
        ]
    )
    assert float(q @ near) > float(q @ far) + 0.2


def test_pipeline_with_real_model_finds_the_right_page(tmp_path, datasets) -> None:  # type: ignore[no-untyped-def]
    from app.context import AppContext
    from core.settings import Settings

    ctx = AppContext(Settings(data_dir=tmp_path / "data"))
    ctx.catalog.create("hr", "customer_service")
    pdf = datasets / "contoso_hr_benefits" / "docs" / "PerksPlus.pdf"
    report = ctx.pipeline.ingest("hr", [pdf])
    assert report.added == 1 and report.chunks > 0
    kb = ctx.catalog.get("hr")
    from core.catalog import base_ref
    from core.stores.base import StoreFilter

    store = ctx.backends.get(kb.backend).vectors(base_ref(kb))
    query = ctx.embedder.embed(["Can I use PerksPlus to pay for ski lessons or rock climbing?"])[0]
    _, ids = store.search(query, 3, StoreFilter(kb.id))
    from sqlalchemy import select

    from core.db import ChunkRow

    with ctx.db.session() as s:
        rows = s.scalars(select(ChunkRow).where(ChunkRow.vector_id.in_(ids.tolist()))).all()
    assert rows and all(r.page is not None for r in rows)
    assert any("climb" in r.text.lower() or "ski" in r.text.lower() for r in rows)
