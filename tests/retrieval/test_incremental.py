"""BM25 and dense indexes follow ingestion: stale text disappears, new text is found."""

from __future__ import annotations

import pytest

from core.types import Principal
from retrieval.filters import SearchFilters
from tests.retrieval.conftest import Stack

ADMIN = Principal("admin", admin=True)
CORP = SearchFilters(kbs=("corp",))


def sources(hits) -> set[str]:  # type: ignore[no-untyped-def]
    return {h.source for h in hits}


def test_update_and_delete_are_reflected(stack: Stack) -> None:
    assert "cafeteria.txt" in sources(stack.sparse.search("breakfast", k=5, filters=CORP, principal=ADMIN))
    (stack.folder / "cafeteria.txt").write_text("The cafeteria now serves brunch with pancakes on Sundays.")
    stack.pipeline.ingest("corp", [stack.folder / "cafeteria.txt"])
    assert not stack.sparse.search("breakfast weekday", k=5, filters=CORP, principal=ADMIN)
    for search in (stack.sparse.search, stack.dense.search, stack.hybrid.search):
        hits = search("pancakes brunch", k=5, filters=CORP, principal=ADMIN)
        assert hits[0].source == "cafeteria.txt" and "pancakes" in hits[0].text
        assert all("breakfast" not in h.text for h in hits)

    doc_id = hits[0].document_id
    stack.pipeline.delete_document(doc_id)
    for search in (stack.sparse.search, stack.dense.search, stack.hybrid.search):
        assert "cafeteria.txt" not in sources(search("pancakes brunch", k=5, filters=CORP, principal=ADMIN))


def test_sparse_index_is_built_at_ingest_not_per_query(stack: Stack) -> None:
    kb = stack.pipeline.catalog.get("corp")
    if kb.backend != "faiss":
        pytest.skip("bm25s files are the faiss backend's; the others index keywords in the engine")
    backend = stack.pipeline.backends.get("faiss")
    assert backend.files.sparse_dir(kb.id, kb.index_version).is_dir()  # type: ignore[attr-defined]
    snap = backend.snapshots.get(kb.id)  # type: ignore[attr-defined]
    assert backend.snapshots.get(kb.id).sparse is snap.sparse  # type: ignore[attr-defined]


def test_multiple_knowledge_bases_merge(stack: Stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    stack.pipeline.catalog.create("other")
    extra = tmp_path / "faq.txt"
    extra.write_text("Refunds for gift cards are not possible.")
    stack.pipeline.ingest("other", [extra])
    both = SearchFilters(kbs=("corp", "other"))
    hits = stack.hybrid.search("refund", k=10, filters=both, principal=ADMIN)
    assert {h.kb for h in hits} == {"corp", "other"}
