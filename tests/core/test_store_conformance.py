"""One conformance suite that every search backend runs on its real engine (no mocks).

faiss on SQLite; postgres (pgvector + BM25) on the throw-away PostgreSQL; milvus both in-process
(milvus-lite, a file URI) and through a Milvus server (KB_TEST_MILVUS_URI). Chunk rows are written
to SQL and the store together through the backend's IndexWriter, as the ingestion pipeline does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete

from core.catalog import Catalog, base_ref
from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase
from core.settings import Settings
from core.stores.base import BaseRef, ChunkEntry, SearchBackend, StoreFilter
from core.stores.consistency import check_consistency
from core.stores.registry import SearchBackends
from core.types import chunk_id, document_id, vector_id
from tests.conftest import milvus_server_uri, postgres_url

DIM = 32
RNG_SEED = 7


@dataclass
class Doc:
    source: str
    texts: list[str]
    vectors: np.ndarray
    groups: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def keys(self, kb: str) -> list[int]:
        return [vector_id(chunk_id(kb, self.source, i, t)) for i, t in enumerate(self.texts)]


@dataclass
class Env:
    db: Database
    backends: SearchBackends
    backend: SearchBackend
    kb: KnowledgeBase

    @property
    def ref(self) -> BaseRef:
        return base_ref(self.kb, DIM)

    def write(self, docs: list[Doc]) -> None:
        """Chunk rows and store entries of ``docs`` (replacing earlier versions) in one commit."""
        with self.backend.writer(self.ref) as writer:
            with self.db.session() as session:
                kb_row = session.get(KnowledgeBase, self.kb.id)
                entries = []
                for doc in docs:
                    doc_id = document_id(self.kb.name, doc.source)
                    old = [
                        r.vector_id for r in session.query(ChunkRow).filter(ChunkRow.document_id == doc_id)
                    ]
                    session.execute(delete(ChunkRow).where(ChunkRow.document_id == doc_id))
                    writer.delete(old)
                    row = session.get(DocumentRow, doc_id) or DocumentRow(
                        id=doc_id, kb_id=self.kb.id, source=doc.source
                    )
                    row.status, row.access_groups, row.scenario_tags = "ready", doc.groups, doc.tags
                    row.meta, row.chunk_count = doc.meta, len(doc.texts)
                    session.add(row)
                    session.flush()
                    for i, (body, key) in enumerate(zip(doc.texts, doc.keys(self.kb.name), strict=True)):
                        session.add(
                            ChunkRow(
                                id=chunk_id(self.kb.name, doc.source, i, body),
                                document_id=doc_id,
                                kb_id=self.kb.id,
                                vector_id=key,
                                position=i,
                                text=body,
                            )
                        )
                        entries.append(
                            ChunkEntry(
                                key,
                                doc_id,
                                body,
                                doc.vectors[i],
                                tuple(doc.groups),
                                tuple(doc.tags),
                                doc.meta,
                            )
                        )
                session.flush()
                writer.upsert(entries)
                kb_row.dim = DIM
                writer.stage(session, kb_row)
            writer.committed()
        self.kb = Catalog(self.db, self.backends).get(self.kb.name)

    def remove(self, doc: Doc) -> None:
        doc_id = document_id(self.kb.name, doc.source)
        with self.backend.writer(self.ref) as writer:
            with self.db.session() as session:
                writer.delete(doc.keys(self.kb.name))
                session.execute(delete(DocumentRow).where(DocumentRow.id == doc_id))
                writer.stage(session, session.get(KnowledgeBase, self.kb.id))
            writer.committed()

    def vsearch(self, vector: np.ndarray, k: int, **flt: Any) -> list[int]:
        scores, keys = self.backend.vectors(self.ref).search(vector, k, StoreFilter(self.kb.id, **flt))
        assert list(scores) == sorted(scores, reverse=True)
        return keys.tolist()

    def ksearch(self, query: str, k: int, **flt: Any) -> list[int]:
        scores, keys = self.backend.keywords(self.ref).search(query, k, StoreFilter(self.kb.id, **flt))
        assert list(scores) == sorted(scores, reverse=True)
        return keys.tolist()


@pytest.fixture(
    params=[
        "faiss",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("milvus-lite", marks=pytest.mark.milvus),
        pytest.param("milvus-server", marks=pytest.mark.milvus),
    ]
)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    name = request.param
    url = postgres_url() if name == "postgres" else f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        backend=name.split("-")[0],  # type: ignore[arg-type]
        milvus_uri=milvus_server_uri() if name == "milvus-server" else str(tmp_path / "milvus.db"),
        milvus_prefix=f"conf_{tmp_path.name[-12:].replace('-', '_')}",
    )
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.sqlalchemy_url)
    db.upgrade()
    backends = SearchBackends(settings, db)
    kb = Catalog(db, backends).create("conf")
    environment = Env(db, backends, backends.get(settings.backend), kb)
    yield environment
    environment.backend.drop_base(kb.id)
    db.dispose()


def unit(rows: int, seed: int = RNG_SEED) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
]


def corpus(n_docs: int, per_doc: int, seed: int = RNG_SEED) -> list[Doc]:
    vectors = unit(n_docs * per_doc, seed)
    rng = np.random.default_rng(seed + 1)
    docs = []
    for d in range(n_docs):
        texts = [
            " ".join(rng.choice(WORDS, 6)) + f" item{d}x{c}" for c in range(per_doc)
        ]  # item<d>x<c>: a word only this chunk has
        docs.append(Doc(f"doc{d}.txt", texts, vectors[d * per_doc : (d + 1) * per_doc]))
    return docs


def test_exact_top_k_matches_brute_force(env: Env) -> None:
    docs = corpus(40, 5)
    env.write(docs)
    keys = np.asarray([k for d in docs for k in d.keys("conf")])
    matrix = np.vstack([d.vectors for d in docs])
    for query in unit(15, seed=99):
        expected = keys[np.argsort(-(matrix @ query))[:10]].tolist()
        assert env.vsearch(query, 10) == expected


def test_keyword_search_finds_the_exact_words(env: Env) -> None:
    docs = corpus(20, 3)
    env.write(docs)
    for d in (0, 7, 19):
        assert env.ksearch(f"item{d}x1", 5)[:1] == [docs[d].keys("conf")[1]]


def test_permission_filter_never_leaks(env: Env) -> None:
    secret = Doc(
        "board.txt", ["nightingale acquisition price forty two million"], unit(1, 5), groups=["execs"]
    )
    public = Doc("cafeteria.txt", ["breakfast opens at eight"], unit(1, 6))
    support = Doc("returns.txt", ["refund within thirty days"], unit(1, 7), groups=["support"])
    env.write([secret, public, support])
    forbidden = set(secret.keys("conf"))
    for groups in (frozenset({"support"}), frozenset()):
        # the forbidden chunk's own vector and its exact words still do not find it
        assert not forbidden & set(env.vsearch(secret.vectors[0], 10, groups=groups))
        assert not forbidden & set(
            env.ksearch("nightingale acquisition price forty two million", 10, groups=groups)
        )
    assert set(env.vsearch(secret.vectors[0], 10, groups=frozenset())) == set(public.keys("conf"))
    assert set(env.ksearch("refund breakfast", 10, groups=frozenset({"support"}))) == set(
        public.keys("conf") + support.keys("conf")
    )
    assert env.vsearch(secret.vectors[0], 1, groups=frozenset({"execs"})) == secret.keys("conf")
    assert env.vsearch(secret.vectors[0], 1) == secret.keys("conf")  # groups=None: an admin


def test_a_one_percent_filter_still_returns_k_rows(env: Env) -> None:
    docs = corpus(200, 10)  # 2000 chunks; 2 documents (20 chunks, 1 %) readable by "rare"
    for i, doc in enumerate(docs):
        doc.groups = ["rare"] if i in (17, 151) else ["common"]
        doc.meta = {"shelf": "rare" if i in (17, 151) else "common"}
    env.write(docs)
    rare = set(docs[17].keys("conf") + docs[151].keys("conf"))
    for query in unit(5, seed=3):
        found = env.vsearch(query, 10, groups=frozenset({"rare"}))
        assert len(found) == 10 and set(found) <= rare
        by_meta = env.vsearch(query, 10, metadata={"shelf": "rare"})
        assert len(by_meta) == 10 and set(by_meta) <= rare
    words = env.ksearch("alpha bravo charlie", 10, groups=frozenset({"rare"}))
    assert len(words) == 10 and set(words) <= rare


def test_tags_and_documents_filter(env: Env) -> None:
    docs = corpus(6, 2)
    docs[0].tags, docs[1].tags = ["finance"], ["retail"]
    env.write(docs)
    query = docs[0].vectors[0]
    assert set(env.vsearch(query, 10, tags=frozenset({"finance"}))) == set(docs[0].keys("conf"))
    only = frozenset({document_id("conf", docs[3].source)})
    assert set(env.vsearch(query, 10, document_ids=only)) == set(docs[3].keys("conf"))
    assert set(env.ksearch("item3x0 item0x0", 10, document_ids=only)) == {docs[3].keys("conf")[0]}


def test_metadata_filter_matches_a_list_by_membership(env: Env) -> None:
    docs = corpus(4, 2)  # a filing's facts: tickers is a list, fiscal_year a number
    docs[0].meta = {"company": "Apple Inc.", "tickers": ["AAPL"], "fiscal_year": 2023}
    docs[1].meta = {"company": "Alphabet Inc.", "tickers": ["GOOG", "GOOGL"], "fiscal_year": 2023}
    docs[2].meta = {"company": "Acme", "tickers": "GOOGL", "fiscal_year": 2022}
    env.write(docs)
    query = docs[3].vectors[0]
    keys = {i: set(d.keys("conf")) for i, d in enumerate(docs)}
    assert set(env.vsearch(query, 10, metadata={"tickers": "GOOGL"})) == keys[1] | keys[2]
    assert set(env.vsearch(query, 10, metadata={"tickers": "AAPL", "fiscal_year": 2023})) == keys[0]
    assert env.vsearch(query, 10, metadata={"tickers": "MSFT"}) == []
    assert set(env.ksearch("item1x0 item0x0", 10, metadata={"tickers": "GOOG"})) == {docs[1].keys("conf")[0]}


def test_delete_and_reingest_take_effect_at_once(env: Env) -> None:
    docs = corpus(10, 3)
    env.write(docs)
    target = docs[4]
    env.remove(target)
    assert not set(target.keys("conf")) & set(env.vsearch(target.vectors[0], 30))
    assert not set(target.keys("conf")) & set(env.ksearch("item4x0 item4x1 item4x2", 30))
    env.write([target])
    assert env.vsearch(target.vectors[0], 1) == target.keys("conf")[:1]
    assert env.ksearch("item4x2", 1) == target.keys("conf")[2:3]
    changed = Doc(target.source, ["a completely new text about zebras"], unit(1, 42))
    env.write([changed])  # a changed file replaces exactly its own chunks
    assert env.ksearch("item4x2", 5) == []
    assert env.ksearch("zebras", 5) == changed.keys("conf")
    assert check_consistency(env.db, env.backends, "conf") == []


def test_upserts_are_idempotent(env: Env) -> None:
    docs = corpus(5, 4)
    env.write(docs)
    env.write(docs)
    keys = env.backend.keys(env.ref)
    assert sorted(keys.tolist()) == sorted(k for d in docs for k in d.keys("conf"))
    found = env.vsearch(docs[2].vectors[1], 20)
    assert len(found) == len(set(found)) == 20
    assert check_consistency(env.db, env.backends, "conf") == []


def test_access_changes_reach_the_filter_fields(env: Env) -> None:
    docs = corpus(4, 2)
    docs[1].groups = ["hr"]
    env.write(docs)
    doc_id = document_id("conf", docs[1].source)
    hidden = set(docs[1].keys("conf"))
    assert not hidden & set(env.vsearch(docs[1].vectors[0], 8, groups=frozenset({"sales"})))
    with env.backend.writer(env.ref) as writer:
        with env.db.session() as session:
            session.get(DocumentRow, doc_id).access_groups = ["sales"]
            writer.set_access(doc_id, ["sales"], [])
            writer.stage(session, session.get(KnowledgeBase, env.kb.id))
        writer.committed()
    assert hidden <= set(env.vsearch(docs[1].vectors[0], 8, groups=frozenset({"sales"})))
    assert not hidden & set(env.ksearch("item1x0 item1x1", 8, groups=frozenset({"hr"})))


def test_metadata_changes_reach_the_filter_fields(env: Env) -> None:
    docs = corpus(4, 2)
    docs[2].meta = {"company": "Acme"}
    env.write(docs)
    doc_id = document_id("conf", docs[2].source)
    edited = {"company": "Acme", "tickers": ["ACME", "ACM"]}  # an admin adds the tickers
    with env.backend.writer(env.ref) as writer:
        with env.db.session() as session:
            session.get(DocumentRow, doc_id).meta = edited
            writer.set_access(doc_id, [], [], edited)
            writer.stage(session, session.get(KnowledgeBase, env.kb.id))
        writer.committed()
    assert set(env.vsearch(docs[0].vectors[0], 8, metadata={"tickers": "ACM"})) == set(docs[2].keys("conf"))
    assert set(env.ksearch("item2x0 item0x0", 8, metadata={"company": "Acme"})) == {docs[2].keys("conf")[0]}


def test_two_writers_on_one_base_do_not_corrupt_it(env: Env) -> None:
    first, second = corpus(30, 4, seed=1), corpus(30, 4, seed=2)
    for doc in second:
        doc.source = "b-" + doc.source
    errors: list[BaseException] = []

    def run(docs: list[Doc]) -> None:
        try:
            for start in range(0, len(docs), 5):
                env.write(docs[start : start + 5])
        except BaseException as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(env.backend.keys(env.ref).tolist()) == sorted(
        k for d in first + second for k in d.keys("conf")
    )
    assert check_consistency(env.db, env.backends, "conf") == []
    assert env.vsearch(second[29].vectors[3], 1) == second[29].keys("conf")[3:]


def test_chinese_is_segmented_before_the_keyword_index(env: Env) -> None:
    leave = Doc("leave.txt", ["员工每年享有二十五天带薪年假，需提前两周申请。"], unit(1, 11))
    travel = Doc("travel.txt", ["出差报销需要在三十天内提交发票。"], unit(1, 12))
    english = Doc("english.txt", ["Employees receive twenty five days of paid leave."], unit(1, 13))
    env.write([leave, travel, english])
    assert env.ksearch("带薪年假", 3)[:1] == leave.keys("conf")
    assert env.ksearch("报销发票", 3)[:1] == travel.keys("conf")
    assert env.ksearch("receiving paid leaves", 3)[:1] == english.keys("conf")  # stemmed


def test_a_filter_admitting_fewer_than_k_returns_all_it_admits_in_order(env: Env) -> None:
    docs = corpus(100, 10)  # 1,000 chunks; one document of 5 chunks is readable by "tiny"
    for doc in docs:
        doc.groups = ["common"]
    docs[42] = Doc("tiny.txt", docs[42].texts[:5], docs[42].vectors[:5], groups=["tiny"])
    env.write(docs)
    query = unit(1, seed=77)[0]
    found = env.vsearch(query, 10, groups=frozenset({"tiny"}))
    expected = np.asarray(docs[42].keys("conf"))[np.argsort(-(docs[42].vectors @ query))]
    assert found == expected.tolist()
    words = " ".join(f"item42x{c}" for c in range(5)) + " item41x0 item43x0"  # and two forbidden ones
    assert sorted(env.ksearch(words, 10, groups=frozenset({"tiny"}))) == sorted(docs[42].keys("conf"))
