"""Ingestion pipeline with the hashing embedder (fast) on SQLite + faiss and PostgreSQL + pgvector:
incremental updates, sync, delete, failures and consistency between SQL and the search store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from core.catalog import Catalog, base_ref
from core.db import ChunkRow, Database, DocumentRow, IngestionJob
from core.settings import Settings
from core.stores.base import StoreFilter
from core.stores.consistency import check_consistency
from ingest.chunking import StructureAwareChunker
from ingest.embedder import HashingEmbedder
from ingest.pipeline import IngestionPipeline


def word_counter(texts: list[str]) -> list[int]:
    return [len(t.split()) * 2 for t in texts]  # ~ word pieces, pessimistic


@pytest.fixture
def pipeline(settings: Settings, db: Database) -> IngestionPipeline:
    pipe = IngestionPipeline(settings, db, HashingEmbedder(), StructureAwareChunker(word_counter))
    pipe.catalog.create("kb1", "customer_service")
    return pipe


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "refunds.md").write_text(
        "# Refund policy\n\nRefunds are issued within 14 days of purchase.\n\n"
        "## Exceptions\n\nGift cards cannot be refunded.\n"
    )
    (root / "shipping.txt").write_text(
        "Standard shipping takes 3 to 5 business days.\n\nExpress is next day.\n"
    )
    (root / "sub" / "prices.csv").write_text("sku,name,price\nA1,Widget,9.99\nB2,Gadget,19.50\n")
    (root / "broken.pdf").write_bytes(b"this is not a pdf at all")
    (root / ".hidden.txt").write_text("never ingested")
    return root


def chunk_ids(db: Database, source: str) -> set[str]:
    with db.session() as s:
        doc = s.scalar(select(DocumentRow).where(DocumentRow.source == source))
        return set(s.scalars(select(ChunkRow.id).where(ChunkRow.document_id == doc.id)).all())


def consistent(pipeline: IngestionPipeline) -> None:
    assert check_consistency(pipeline.db, pipeline.backends, "kb1") == []


def stored_keys(pipeline: IngestionPipeline) -> set[int]:
    kb = pipeline.catalog.get("kb1")
    return set(pipeline.backends.get(kb.backend).keys(base_ref(kb)).tolist())


def faiss_files(pipeline: IngestionPipeline) -> object:
    """The faiss backend's file layout; skips the rest of a test on other backends."""
    if pipeline.catalog.get("kb1").backend != "faiss":
        pytest.skip("checks the faiss backend's versioned files")
    return pipeline.backends.get("faiss").files  # type: ignore[attr-defined]


def test_ingest_reports_each_file_and_keeps_going(pipeline: IngestionPipeline, folder: Path) -> None:
    report = pipeline.ingest("kb1", [folder])
    assert report.added == 3
    assert [f["path"] for f in report.failed] == ["broken.pdf"]
    assert "pdf" in report.failed[0]["error"].lower()
    assert report.chunks > 0
    consistent(pipeline)
    with pipeline.db.session() as s:
        docs = {d.source: d for d in s.scalars(select(DocumentRow)).all()}
        job = s.get(IngestionJob, report.job_id)
    assert set(docs) == {"refunds.md", "shipping.txt", "sub/prices.csv", "broken.pdf"}
    assert docs["broken.pdf"].status == "failed" and docs["broken.pdf"].error
    assert docs["refunds.md"].status == "ready" and docs["refunds.md"].chunk_count > 0
    assert job.status == "partial" and job.processed_files == 4 and job.failed == 1
    assert {r["path"] for r in job.results} == set(docs)


def test_reingest_is_a_noop(pipeline: IngestionPipeline, folder: Path) -> None:
    pipeline.ingest("kb1", [folder])
    before = chunk_ids(pipeline.db, "refunds.md")
    version = pipeline.catalog.get("kb1").index_version
    report = pipeline.ingest("kb1", [folder])
    assert (report.added, report.updated, report.unchanged, report.chunks) == (0, 0, 3, 0)
    assert chunk_ids(pipeline.db, "refunds.md") == before
    assert pipeline.catalog.get("kb1").index_version == version  # no index rewrite
    consistent(pipeline)


def test_edited_file_replaces_only_its_chunks(pipeline: IngestionPipeline, folder: Path) -> None:
    pipeline.ingest("kb1", [folder])
    shipping_before = chunk_ids(pipeline.db, "shipping.txt")
    refunds_before = chunk_ids(pipeline.db, "refunds.md")
    (folder / "refunds.md").write_text("# Refund policy\n\nRefunds are issued within 30 days now.\n")
    report = pipeline.ingest("kb1", [folder])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    assert chunk_ids(pipeline.db, "shipping.txt") == shipping_before
    after = chunk_ids(pipeline.db, "refunds.md")
    assert after and not (after & refunds_before)
    with pipeline.db.session() as s:
        doc = s.scalar(select(DocumentRow).where(DocumentRow.source == "refunds.md"))
        texts = s.scalars(select(ChunkRow.text).where(ChunkRow.document_id == doc.id)).all()
    assert doc.version == 2
    assert any("30 days" in t for t in texts) and not any("14 days" in t for t in texts)
    consistent(pipeline)


def test_sync_removes_documents_of_deleted_files(pipeline: IngestionPipeline, folder: Path) -> None:
    pipeline.ingest("kb1", [folder])
    gone = chunk_ids(pipeline.db, "shipping.txt")
    (folder / "shipping.txt").unlink()
    assert pipeline.ingest("kb1", [folder]).deleted == 0  # without --sync nothing is removed
    report = pipeline.ingest("kb1", [folder], sync=True)
    assert report.deleted == 1
    with pipeline.db.session() as s:
        assert s.scalar(select(DocumentRow).where(DocumentRow.source == "shipping.txt")) is None
    from core.types import vector_id

    assert not stored_keys(pipeline) & {vector_id(c) for c in gone}
    consistent(pipeline)


def test_delete_document_removes_vectors_and_rows(pipeline: IngestionPipeline, folder: Path) -> None:
    pipeline.ingest("kb1", [folder])
    with pipeline.db.session() as s:
        doc = s.scalar(select(DocumentRow).where(DocumentRow.source == "refunds.md"))
    n_before = len(stored_keys(pipeline))
    pipeline.delete_document(doc.id)
    kb = pipeline.catalog.get("kb1")
    assert len(stored_keys(pipeline)) == n_before - doc.chunk_count
    with pipeline.db.session() as s:
        assert s.get(DocumentRow, doc.id) is None
        assert not s.scalars(select(ChunkRow).where(ChunkRow.document_id == doc.id)).all()
    consistent(pipeline)
    # only the live index version is left on disk
    files = faiss_files(pipeline)
    assert sorted(p.name for p in files.kb_dir(kb.id).glob("vectors.*.faiss")) == [  # type: ignore[attr-defined]
        f"vectors.v{kb.index_version}.faiss"
    ]


def test_groups_and_tags_follow_the_flags(pipeline: IngestionPipeline, folder: Path) -> None:
    pipeline.ingest("kb1", [folder / "refunds.md"], groups=["support"], tags=["customer_service"])
    report = pipeline.ingest("kb1", [folder / "refunds.md"], groups=["support", "finance"])
    assert report.updated == 1 and report.chunks == 0  # metadata only, no re-embedding
    with pipeline.db.session() as s:
        doc = s.scalar(select(DocumentRow).where(DocumentRow.source == "refunds.md"))
    assert doc.access_groups == ["finance", "support"] and doc.scenario_tags == []


def test_corpus_jsonl_records_keep_external_ids(pipeline: IngestionPipeline, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    records = [
        {"_id": "d1", "title": "Returns", "text": "Items can be returned within 30 days."},
        {"_id": "d2", "title": "Warranty", "text": "The warranty covers two years of use."},
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in records))
    report = pipeline.ingest("kb1", [corpus])
    assert report.added == 1 and not report.failed
    with pipeline.db.session() as s:
        docs = s.scalars(select(DocumentRow).order_by(DocumentRow.external_id)).all()
        assert [(d.external_id, d.title, d.source) for d in docs] == [
            ("d1", "Returns", "corpus.jsonl#d1"),
            ("d2", "Warranty", "corpus.jsonl#d2"),
        ]
        d1_chunks = set(s.scalars(select(ChunkRow.id).where(ChunkRow.document_id == docs[0].id)).all())
    corpus.write_text(json.dumps(records[0]) + "\n")  # d2 removed, d1 unchanged
    report = pipeline.ingest("kb1", [corpus])
    with pipeline.db.session() as s:
        docs = s.scalars(select(DocumentRow)).all()
        assert [d.external_id for d in docs] == ["d1"]
        assert set(s.scalars(select(ChunkRow.id)).all()) == d1_chunks
    consistent(pipeline)


def test_orphan_index_files_of_a_dead_writer_are_removed(pipeline: IngestionPipeline, folder: Path) -> None:
    pipeline.ingest("kb1", [folder])
    kb = pipeline.catalog.get("kb1")
    files = faiss_files(pipeline)
    # Simulate a process that died after writing the next index version but before SQL commit.
    orphan = files.vector_path(kb.id, kb.index_version + 1)  # type: ignore[attr-defined]
    shutil.copy(files.vector_path(kb.id, kb.index_version), orphan)  # type: ignore[attr-defined]
    with pipeline.db.session() as s:
        s.add(IngestionJob(id="deadjob", kb_id=kb.id, status="running", pid=999999))
    (folder / "new.txt").write_text("A new policy about loyalty points.")
    report = pipeline.ingest("kb1", [folder])
    assert report.added == 1
    with pipeline.db.session() as s:
        dead = s.get(IngestionJob, "deadjob")
    # Its lease decides what happens to the dead job (ingest.worker), not another ingest of the base.
    assert dead.status == "running"
    kb = pipeline.catalog.get("kb1")
    names = sorted(p.name for p in files.kb_dir(kb.id).glob("vectors.*.faiss"))  # type: ignore[attr-defined]
    assert names == [f"vectors.v{kb.index_version}.faiss"]
    consistent(pipeline)


def test_small_commit_batches_stay_consistent(settings: Settings, db: Database, folder: Path) -> None:
    settings = settings.model_copy(update={"commit_every_chunks": 1})
    pipe = IngestionPipeline(settings, db, HashingEmbedder(), StructureAwareChunker(word_counter))
    pipe.catalog.create("kb1")
    report = pipe.ingest("kb1", [folder])
    assert report.added == 3
    if settings.backend == "faiss":
        assert pipe.catalog.get("kb1").index_version >= 3  # one commit per file
    assert check_consistency(db, pipe.backends, "kb1") == []


def test_embedder_mismatch_is_refused(pipeline: IngestionPipeline, folder: Path) -> None:
    pipeline.ingest("kb1", [folder / "refunds.md"])
    other = IngestionPipeline(
        pipeline.settings, pipeline.db, HashingEmbedder(dim=128), StructureAwareChunker(word_counter)
    )
    other.embedder.name = "another-model"
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="embedded with"):
        other.ingest("kb1", [folder / "shipping.txt"])


def test_delete_knowledge_base_removes_everything(pipeline: IngestionPipeline, folder: Path) -> None:
    pipeline.ingest("kb1", [folder])
    kb = pipeline.catalog.get("kb1")
    backend = pipeline.backends.get(kb.backend)
    Catalog(pipeline.db, pipeline.backends).delete("kb1")
    assert len(backend.keys(base_ref(kb))) == 0
    if kb.backend == "faiss":
        assert not backend.files.kb_dir(kb.id).exists()  # type: ignore[attr-defined]
    with pipeline.db.session() as s:
        assert s.scalars(select(ChunkRow)).all() == []
        assert s.scalars(select(DocumentRow)).all() == []


def test_vectors_match_the_embedder(pipeline: IngestionPipeline, folder: Path) -> None:
    pipeline.ingest("kb1", [folder / "shipping.txt"])
    kb = pipeline.catalog.get("kb1")
    store = pipeline.backends.get(kb.backend).vectors(base_ref(kb))
    with pipeline.db.session() as s:
        row = s.scalars(select(ChunkRow)).first()
    scores, ids = store.search(HashingEmbedder().embed([row.text])[0], 1, StoreFilter(kb.id))
    assert ids[0] == row.vector_id and np.isclose(scores[0], 1.0, atol=1e-4)


class FailingEmbedder(HashingEmbedder):
    """Fails on its ``fail_at``-th call, as a model that runs out of memory would."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("the embedding model failed")
        return super().embed(texts)


def many_files(tmp_path: Path) -> Path:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(12):
        (root / f"f{i:02d}.md").write_text(f"# Doc {i}\n\n" + " ".join(f"w{i}x{j}" for j in range(60)))
    return root


def test_vectors_embedded_a_few_at_a_time_stay_with_their_chunks(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    # chunks are embedded a few at a time between files and committed in batches of five
    settings = settings.model_copy(update={"commit_every_chunks": 5})
    pipe = IngestionPipeline(settings, db, HashingEmbedder(), StructureAwareChunker(word_counter))
    pipe.embed_buffer = 2
    pipe.catalog.create("kb1")
    assert pipe.ingest("kb1", [many_files(tmp_path)]).added == 12
    kb = pipe.catalog.get("kb1")
    store = pipe.backends.get(kb.backend).vectors(base_ref(kb))
    with pipe.db.session() as s:
        rows = s.scalars(select(ChunkRow)).all()
    assert len(rows) == 12
    for row in rows:
        _, ids = store.search(HashingEmbedder().embed([row.text])[0], 1, StoreFilter(kb.id))
        assert ids[0] == row.vector_id
    assert check_consistency(db, pipe.backends, "kb1") == []


def test_an_embedder_failure_mid_ingest_fails_the_job_and_keeps_the_base_consistent(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"commit_every_chunks": 5})
    pipe = IngestionPipeline(settings, db, FailingEmbedder(fail_at=5), StructureAwareChunker(word_counter))
    pipe.embed_buffer = 2
    pipe.catalog.create("kb1")
    with pytest.raises(RuntimeError, match="embedding model failed"):
        pipe.ingest("kb1", [many_files(tmp_path)])
    with pipe.db.session() as s:
        ready = s.scalars(select(DocumentRow).where(DocumentRow.status == "ready")).all()
        job = s.scalars(select(IngestionJob)).one()
    assert 0 < len(ready) < 12  # the batches committed before the failure stay
    assert job.status == "failed"
    assert check_consistency(db, pipe.backends, "kb1") == []
