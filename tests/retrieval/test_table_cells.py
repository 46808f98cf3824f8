"""A table chunk's cells survive ingestion into the database and come back on its search hits
(SQLite + faiss, and PostgreSQL where the suite starts one)."""

from __future__ import annotations

from pathlib import Path

from core.db import Database
from core.settings import Settings
from core.types import Principal
from ingest.chunking import StructureAwareChunker
from ingest.embedder import HashingEmbedder
from ingest.pipeline import IngestionPipeline
from retrieval.candidates import SearchStores
from retrieval.filters import SearchFilters
from retrieval.sparse import SparseRetriever


def test_cells_come_back_on_hits(settings: Settings, db: Database, tmp_path: Path) -> None:
    pipeline = IngestionPipeline(
        settings, db, HashingEmbedder(), StructureAwareChunker(lambda ts: [len(t.split()) * 2 for t in ts])
    )
    pipeline.catalog.create("fin")
    page = tmp_path / "q3.md"
    page.write_text(
        "# Net sales by category\n\n(In millions)\n\n"
        "| | Q3 2023 | Q3 2022 |\n|---|---|---|\n| iPhone | 39,669 | 40,665 |\n| Mac | 6,840 | 7,382 |\n"
    )
    pipeline.ingest("fin", [page])
    hits = SparseRetriever(SearchStores(db, pipeline.backends)).search(
        "iPhone Mac", k=5, filters=SearchFilters(kbs=("fin",)), principal=Principal("a", admin=True)
    )
    tables = [h.metadata["table"] for h in hits if h.metadata.get("table")]
    assert tables and tables[0]["scale"] == "million"
    assert ["iPhone", "Q3 2023", "39,669"] in tables[0]["cells"]


def test_the_unit_of_a_tie_is_the_mark_written_first_whatever_the_hash_seed() -> None:
    from core.tables import unit_in

    assert unit_in(["$2,856", "81%", "416", "108%", "$6,778"]) == "$"
    assert unit_in(["81%", "$2,856", "108%", "$6,778"]) == "%"
