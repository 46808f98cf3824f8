"""Permissions are applied before ranking on every retrieval path; no principal means nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.types import Hit, Principal
from retrieval.filters import SearchFilters
from tests.retrieval.conftest import SECRET, SUPPORT, Stack

EXEC = Principal("ceo", frozenset({"execs"}))
AGENT = Principal("agent", frozenset({"support"}))
NOBODY = Principal("temp", frozenset())
ADMIN = Principal("admin", admin=True)
CORP = SearchFilters(kbs=("corp",))


class ReverseReranker:
    """A test reranker that reverses the order: it must never see text the caller may not read."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def rerank(self, query: str, hits: list[Hit], *, top_k: int) -> list[Hit]:
        self.seen += [h.text for h in hits]
        return [replace(h, rerank_score=float(i)) for i, h in enumerate(reversed(hits))][:top_k]


def paths(stack: Stack) -> dict[str, object]:
    reranker = ReverseReranker()
    stack.hybrid.reranker = reranker
    return {
        "dense": stack.dense.search,
        "sparse": stack.sparse.search,
        "hybrid": lambda q, **kw: stack.hybrid.search(q, rerank=False, **kw),
        "hybrid+rerank": stack.hybrid.search,
        "_reranker": reranker,
    }


@pytest.mark.parametrize("path", ["dense", "sparse", "hybrid", "hybrid+rerank"])
def test_other_groups_text_never_leaks(stack: Stack, path: str) -> None:
    fns = paths(stack)
    search = fns[path]
    for query in (SECRET, "Nightingale acquisition price", "board 42 million"):
        hits = search(query, k=10, filters=CORP, principal=AGENT)  # type: ignore[operator]
        assert all("Nightingale" not in h.text for h in hits)
        assert all(h.source != "board.md" for h in hits)
    assert all("Nightingale" not in t for t in fns["_reranker"].seen)  # type: ignore[attr-defined]
    exec_hits = search("Nightingale acquisition price", k=10, filters=CORP, principal=EXEC)  # type: ignore[operator]
    assert any("Nightingale" in h.text for h in exec_hits)
    assert all(h.source != "returns.md" for h in exec_hits)


@pytest.mark.parametrize("path", ["dense", "sparse", "hybrid", "hybrid+rerank"])
def test_no_principal_means_no_results(stack: Stack, path: str) -> None:
    search = paths(stack)[path]
    assert search("cafeteria breakfast", k=10, filters=CORP, principal=None) == []  # type: ignore[operator]


def test_public_documents_and_admin(stack: Stack) -> None:
    public = stack.hybrid.search("cafeteria breakfast", k=10, filters=CORP, principal=NOBODY)
    assert {h.source for h in public} == {"cafeteria.txt"}
    admin = stack.hybrid.search("refund board cafeteria", k=10, filters=CORP, principal=ADMIN)
    assert {h.source for h in admin} == {"board.md", "returns.md", "cafeteria.txt"}


def test_tag_document_and_metadata_filters(stack: Stack) -> None:
    tagged = SearchFilters(kbs=("corp",), tags=frozenset({"customer_service"}))
    hits = stack.hybrid.search("refund cafeteria", k=10, filters=tagged, principal=ADMIN)
    assert {h.source for h in hits} == {"returns.md"}
    doc_id = hits[0].document_id
    only = SearchFilters(kbs=("corp",), document_ids=frozenset({doc_id}))
    assert {h.document_id for h in stack.dense.search("breakfast", k=5, filters=only, principal=ADMIN)} == {
        doc_id
    }
    nothing = SearchFilters(kbs=("corp",), metadata={"asin": "B000"})
    assert stack.hybrid.search("refund", k=5, filters=nothing, principal=ADMIN) == []


def test_group_change_takes_effect_immediately(stack: Stack) -> None:
    assert not stack.sparse.search("Nightingale", k=5, filters=CORP, principal=AGENT)
    stack.pipeline.ingest("corp", [stack.folder / "board.md"], groups=["execs", "support"])
    hits = stack.sparse.search("Nightingale", k=5, filters=CORP, principal=AGENT)
    assert hits and SECRET.split()[0] in hits[0].text


def test_hits_carry_citation_fields(stack: Stack) -> None:
    hit = stack.hybrid.search("return unopened items refund", k=1, filters=CORP, principal=AGENT)[0]
    assert hit.source == "returns.md" and hit.title and hit.kb == "corp"
    assert hit.heading_path == ("Returns",)
    assert hit.dense_score is not None and hit.sparse_score is not None and hit.fused_score is not None
    assert SUPPORT[:20] in hit.text


def test_langchain_adapter_respects_permissions(stack: Stack) -> None:
    from retrieval.langchain_adapter import KnowledgeBaseRetriever

    agent = KnowledgeBaseRetriever(retriever=stack.hybrid, filters=CORP, principal=AGENT, k=5)
    docs = agent.invoke(SECRET)
    assert docs and all("Nightingale" not in d.page_content for d in docs)
    assert {d.metadata["source"] for d in docs} <= {"returns.md", "cafeteria.txt"}
    execs = KnowledgeBaseRetriever(retriever=stack.hybrid, filters=CORP, principal=EXEC, k=5)
    assert execs.invoke("Nightingale acquisition")[0].metadata["source"] == "board.md"
    anonymous = KnowledgeBaseRetriever(retriever=stack.hybrid, filters=CORP, k=5)
    assert anonymous.invoke("cafeteria") == []
