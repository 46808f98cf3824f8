"""`kb bases migrate`: a base moves between backends explicitly, keeps its results, leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.catalog import base_ref
from core.db import Database
from core.errors import ConflictError
from core.settings import Settings
from core.stores.base import StoreFilter
from core.stores.consistency import check_consistency
from ingest.chunking import StructureAwareChunker
from ingest.embedder import HashingEmbedder
from ingest.migrate import BaseMigrator
from ingest.pipeline import IngestionPipeline
from tests.conftest import milvus_server_uri, postgres_url

pytestmark = [pytest.mark.postgres, pytest.mark.milvus]


def test_round_trip_through_every_backend(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=postgres_url(),
        milvus_uri=milvus_server_uri(),
        milvus_prefix=f"mig{tmp_path.name[-10:].replace('-', '_')}",
    )
    settings.data_dir.mkdir()
    db = Database(settings.sqlalchemy_url)
    db.upgrade()
    embedder = HashingEmbedder()
    pipeline = IngestionPipeline(
        settings, db, embedder, StructureAwareChunker(lambda t: [len(x.split()) for x in t])
    )
    pipeline.catalog.create("hr", backend="faiss")
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"policy{i}.md").write_text(
            f"# Policy {i}\n\nRule {i}: employees get {i + 20} days of leave.\n"
        )
    pipeline.ingest("hr", [docs], groups=["staff"])
    query = embedder.embed(["employees get 25 days of leave"])[0]

    def top(backend_name: str) -> list[tuple[int, float]]:
        kb = pipeline.catalog.get("hr")
        assert kb.backend == backend_name
        store = pipeline.backends.get(kb.backend)
        scores, keys = store.vectors(base_ref(kb)).search(
            query, 5, StoreFilter(kb.id, groups=frozenset({"staff"}))
        )
        words = store.keywords(base_ref(kb)).search("Rule 7", 3, StoreFilter(kb.id))[1]
        assert len(words) and words[0] in store.keys(base_ref(kb))
        return [(int(k), round(float(v), 4)) for k, v in zip(keys, scores, strict=True)]

    expected = top("faiss")
    migrator = BaseMigrator(db, pipeline.backends)
    seen: list[tuple[int, int]] = []
    for source, target in (("faiss", "postgres"), ("postgres", "milvus"), ("milvus", "faiss")):
        report = migrator.migrate("hr", target, progress=lambda done, total: seen.append((done, total)))
        assert (report.source, report.target, report.chunks) == (source, target, 12)
        assert check_consistency(db, pipeline.backends, "hr") == []
        kb = pipeline.catalog.get("hr")
        assert len(pipeline.backends.get(source).keys(base_ref(kb))) == 0  # the old copy is gone
        found = top(target)
        # the same vectors: the same scores, and the same chunks up to the order of exact ties
        assert [v for _, v in found] == [v for _, v in expected]
        assert {k for k, _ in found} == {k for k, _ in expected} or found[0] == expected[0]
    assert seen[-1] == (12, 12)
    with pytest.raises(ConflictError, match="already uses"):
        migrator.migrate("hr", "faiss")
    pipeline.ingest("hr", [docs], sync=True)  # still an ordinary, writable base afterwards
    assert check_consistency(db, pipeline.backends, "hr") == []
    db.dispose()
