"""A small knowledge base ingested with the hashing embedder, and the retrieval stack over it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from core.db import Database
from core.settings import Settings
from ingest.chunking import StructureAwareChunker
from ingest.embedder import HashingEmbedder
from ingest.pipeline import IngestionPipeline
from retrieval.candidates import SearchStores
from retrieval.dense import DenseRetriever
from retrieval.hybrid import HybridRetriever
from retrieval.sparse import SparseRetriever

SECRET = "Project Nightingale acquisition price is 42 million dollars, approved by the board in March."
PUBLIC = "The cafeteria opens at 8 am and serves breakfast until 10 am every weekday."
SUPPORT = "Customers may return unopened items within 30 days for a full refund to the original card."


def word_counter(texts: list[str]) -> list[int]:
    return [len(t.split()) * 2 for t in texts]


@dataclass
class Stack:
    pipeline: IngestionPipeline
    stores: SearchStores
    dense: DenseRetriever
    sparse: SparseRetriever
    hybrid: HybridRetriever
    folder: Path


@pytest.fixture
def stack(settings: Settings, db: Database, tmp_path: Path) -> Stack:
    embedder = HashingEmbedder()
    pipeline = IngestionPipeline(settings, db, embedder, StructureAwareChunker(word_counter))
    pipeline.catalog.create("corp")
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "board.md").write_text(f"# Board minutes\n\n{SECRET}\n")
    (folder / "cafeteria.txt").write_text(PUBLIC)
    (folder / "returns.md").write_text(f"# Returns\n\n{SUPPORT}\n")
    pipeline.ingest("corp", [folder / "board.md"], groups=["execs"])
    pipeline.ingest("corp", [folder / "returns.md"], groups=["support"], tags=["customer_service"])
    pipeline.ingest("corp", [folder / "cafeteria.txt"])
    stores = SearchStores(db, pipeline.backends)
    dense = DenseRetriever(stores, embedder)
    sparse = SparseRetriever(stores)
    return Stack(pipeline, stores, dense, sparse, HybridRetriever(dense, sparse), folder)
