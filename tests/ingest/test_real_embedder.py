"""Every registry embedder, loaded from installed packages with the hub offline; the hashing fake."""

from __future__ import annotations

import numpy as np
import pytest

from core.embedders import SPECS
from core.models import GEMMA_WHEELS, bundled_embedding_model_dir, default_model_wheels_dir
from core.protocols import Embedder
from ingest.embedder import HashingEmbedder, SentenceTransformerEmbedder, build_embedder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(bundled_embedding_model_dir(), batch_size=16)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Embedder]:
    """One running embedder per registry spec (EmbeddingGemma when scripts/bootstrap.sh fetched it)."""
    models = tmp_path_factory.mktemp("models")
    out: dict[str, Embedder] = {"hashing": HashingEmbedder()}
    for key, spec in SPECS.items():
        if key == "embeddinggemma" and not (default_model_wheels_dir() / GEMMA_WHEELS[-1]).is_file():
            continue
        out[key] = build_embedder(spec, models_dir=models, batch_size=8)
    return out


@pytest.mark.parametrize("key", ["hashing", *SPECS])
def test_embedder_protocol(key: str, registry: dict[str, Embedder]) -> None:
    if key not in registry:
        pytest.skip("EmbeddingGemma not downloaded: bash scripts/bootstrap.sh <extras> <llm> gemma")
    emb = registry[key]
    vectors = emb.embed(["refund within 30 days", "育儿假政策", ""])
    assert vectors.shape == (3, emb.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-4)
    assert emb.embed([]).shape == (0, emb.dim) and emb.embed_query([]).shape == (0, emb.dim)
    assert np.allclose(emb.embed(["refund within 30 days"])[0], vectors[0], atol=1e-4)
    queries = emb.embed_query(["how long do refunds take", "什么是育儿假"])
    assert queries.shape == (2, emb.dim) and np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-4)
    if key in SPECS:
        assert emb.dim == SPECS[key].dim and emb.name == SPECS[key].model


def test_int8_minilm_matches_the_torch_model(registry: dict[str, Embedder]) -> None:
    texts = [
        "Products may be returned for a refund within 30 days of purchase.",
        "The quarterly revenue of the data center segment grew strongly. " * 20,  # past 128 tokens
        "员工每年享有十五天带薪年假。",
    ]
    torch_vectors, onnx_vectors = registry["minilm"].embed(texts), registry["minilm-int8"].embed(texts)
    assert (torch_vectors * onnx_vectors).sum(axis=1).min() > 0.995


@pytest.mark.parametrize("key", ["e5-small", "embeddinggemma"])
def test_multilingual_embedders_match_across_languages(key: str, registry: dict[str, Embedder]) -> None:
    if key not in registry:
        pytest.skip("EmbeddingGemma not downloaded: bash scripts/bootstrap.sh <extras> <llm> gemma")
    emb = registry[key]
    chinese = emb.embed(
        ["员工每年享有十五天带薪年假，未使用的年假最多可结转五天。", "北京是中华人民共和国的首都。"]
    )
    english = emb.embed(
        [
            "The capital city hosts the national parliament.",
            "Data center revenue grew 40 percent this quarter.",
        ]
    )
    english_q, chinese_q = emb.embed_query(
        ["How many days of paid vacation do employees get?", "数据中心的收入增长了多少？"]
    )
    # a question finds the passage on its topic among passages in the other language
    assert float(english_q @ chinese[0]) > float(english_q @ chinese[1])
    assert float(chinese_q @ english[1]) > float(chinese_q @ english[0])


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
    query = ctx.embedder.embed_query(["Can I use PerksPlus to pay for ski lessons or rock climbing?"])[0]
    _, ids = store.search(query, 3, StoreFilter(kb.id))
    from sqlalchemy import select

    from core.db import ChunkRow

    with ctx.db.session() as s:
        rows = s.scalars(select(ChunkRow).where(ChunkRow.vector_id.in_(ids.tolist()))).all()
    assert rows and all(r.page is not None for r in rows)
    assert any("climb" in r.text.lower() or "ski" in r.text.lower() for r in rows)
