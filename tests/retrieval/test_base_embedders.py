"""An embedder per knowledge base, with fast fakes: each base is ingested and searched with its own
model, a search over bases of two models fuses per model, a wrong dimension is refused, a base can
be re-embedded, and a calibrated fusion prior is used. The real models go through the same path in
tests/app/test_cli_chinese.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.db import Database, KnowledgeBase
from core.errors import ConfigError, ConflictError
from core.settings import Settings
from core.types import Principal
from ingest.base_models import BaseStages
from ingest.chunking import StructureAwareChunker
from ingest.embedder import HashingEmbedder
from ingest.pipeline import IngestionPipeline
from ingest.reembed import BaseReembedder
from retrieval.base_groups import base_grouping
from retrieval.candidates import SearchStores
from retrieval.dense import DenseRetriever
from retrieval.filters import SearchFilters
from retrieval.hybrid import HybridRetriever
from retrieval.sparse import SparseRetriever
from tests.retrieval.conftest import word_counter

ADMIN = Principal(user_id="admin", admin=True)


class CountingEmbedder(HashingEmbedder):
    """The hashing fake under a registry model's name and dimension, counting query embeddings."""

    def __init__(self, name: str, dim: int) -> None:
        super().__init__(dim)
        self.name = name
        self.queries = 0

    def embed_query(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.queries += len(texts)
        return super().embed_query(texts)


class KeyedModels:
    """Registry keys → fake embedders, found from what each base records (as BaseModels does)."""

    def __init__(self) -> None:
        self.fakes = {
            "minilm": CountingEmbedder("all-MiniLM-L6-v2", 384),
            "embeddinggemma": CountingEmbedder("embeddinggemma-300m", 768),
        }
        self.chunker = StructureAwareChunker(word_counter)

    @property
    def default_key(self) -> str:
        return "minilm"

    def key_for(self, kb: KnowledgeBase) -> str:
        return kb.embedder or "minilm"

    def embedder(self, key: str) -> CountingEmbedder:
        return self.fakes[key]

    def chunker(self, key: str) -> StructureAwareChunker:
        return self.chunker

    def for_base(self, kb: KnowledgeBase) -> BaseStages:
        key = self.key_for(kb)
        return BaseStages(key, self.fakes[key], self.chunker)


@pytest.fixture
def two_bases(settings: Settings, db: Database, tmp_path: Path) -> tuple[IngestionPipeline, KeyedModels]:
    models = KeyedModels()
    pipeline = IngestionPipeline(settings, db, models.fakes["minilm"], models.chunker, models=models)
    pipeline.catalog.create("english")
    pipeline.catalog.create("chinese", embedder="multilingual")
    english = {
        "leave.md": "# Leave\n\nStaff get twenty days of paid annual leave each year.\n",
        "parking.md": "# Parking\n\nThe garage opens at seven and closes at midnight.\n",
        "laptops.md": "# Laptops\n\nEvery engineer receives a new laptop every three years.\n",
    }
    chinese = {
        "年假.md": "# 年假\n\n员工 每年 享有 十五天 带薪 年假 。\n",
        "停车.md": "# 停车\n\n车库 早上 七点 开门 ， 午夜 关门 。\n",
        "电脑.md": "# 电脑\n\n工程师 每 三年 领取 一台 新 电脑 。\n",
    }
    for base, files in (("english", english), ("chinese", chinese)):
        for name, text in files.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        pipeline.ingest(base, [tmp_path / name for name in files])
    return pipeline, models


def _hybrid(pipeline: IngestionPipeline, models: KeyedModels) -> HybridRetriever:
    stores = SearchStores(pipeline.db, pipeline.backends)
    dense = DenseRetriever(stores, models)
    return HybridRetriever(dense, SparseRetriever(stores), grouping=base_grouping(stores, models))


def test_each_base_records_and_uses_its_model(two_bases: tuple[IngestionPipeline, KeyedModels]) -> None:
    pipeline, models = two_bases
    rows = {r["name"]: r for r in pipeline.catalog.list()}
    assert (rows["english"]["embedder"], rows["english"]["dim"]) == ("minilm", 384)
    assert (rows["chinese"]["embedder"], rows["chinese"]["dim"]) == ("embeddinggemma", 768)
    chinese = pipeline.catalog.get("chinese")
    assert chinese.query_prompt.startswith("task: search result") and chinese.embed_normalize

    hybrid = _hybrid(pipeline, models)
    both = SearchFilters(kbs=("english", "chinese"))
    hits = hybrid.search("年假", k=5, filters=both, principal=ADMIN)
    assert hits[0].kb == "chinese"  # fused per model, then merged by fused score
    hits = hybrid.search("paid annual leave", k=5, filters=both, principal=ADMIN)
    assert hits[0].kb == "english" and {h.kb for h in hits} <= {"english", "chinese"}
    # one query embedding per model and search (dense scores of two models are never compared)
    assert models.fakes["minilm"].queries == 2 and models.fakes["embeddinggemma"].queries == 2


def test_wrong_dimension_is_refused_with_the_reason(
    two_bases: tuple[IngestionPipeline, KeyedModels], tmp_path: Path
) -> None:
    pipeline, models = two_bases
    models.fakes["embeddinggemma"] = CountingEmbedder("embeddinggemma-300m", 256)
    (tmp_path / "more.md").write_text("# 报销\n\n报销 须 在 三十天 内 提交 。\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"holds 768-dimensional vectors .* gives 256; nothing was written"):
        pipeline.ingest("chinese", [tmp_path / "more.md"])
    assert pipeline.catalog.get("chinese").dim == 768


def test_reembed_switches_the_model_and_search_follows(
    two_bases: tuple[IngestionPipeline, KeyedModels],
) -> None:
    pipeline, models = two_bases
    pipeline.catalog.set_dense_prior("english", 0.3)
    phases: list[str] = []
    report = BaseReembedder(pipeline.db, pipeline.backends, models).reembed(
        "english", "multilingual", progress=lambda phase, done, total: phases.append(phase)
    )
    assert (report.previous, report.embedder, report.dim, report.chunks) == (
        "minilm",
        "embeddinggemma",
        768,
        3,
    )
    assert phases == ["embedding", "writing"]
    kb = pipeline.catalog.get("english")
    assert (kb.embedder, kb.dim, kb.dense_prior) == ("embeddinggemma", 768, None)  # prior was the old model's
    hits = _hybrid(pipeline, models).search(
        "paid annual leave", k=3, filters=SearchFilters(kbs=("english",)), principal=ADMIN
    )
    assert hits and hits[0].kb == "english" and hits[0].dense_score is not None
    with pytest.raises(ConflictError, match="already uses the embeddinggemma embedder"):
        BaseReembedder(pipeline.db, pipeline.backends, models).reembed("english", "embeddinggemma")


def test_calibrated_prior_is_used_per_base(two_bases: tuple[IngestionPipeline, KeyedModels]) -> None:
    pipeline, models = two_bases
    hybrid = _hybrid(pipeline, models)
    assert [(g.kbs, g.dense_prior) for g in hybrid.groups(("english", "chinese"))] == [
        (("english",), None),
        (("chinese",), None),
    ]
    pipeline.catalog.set_dense_prior("chinese", 0.8)
    groups = hybrid.groups(("chinese",))
    assert groups[0].dense_prior == 0.8 and groups[0].embedder is models.fakes["embeddinggemma"]
    with pytest.raises(ValueError, match="between 0 and 1"):
        pipeline.catalog.set_dense_prior("chinese", 1.5)
