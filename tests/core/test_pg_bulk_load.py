"""pgvector's HNSW index per base: the search query can use it; bulk loads build it once at the end."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

from core.stores.base import StoreFilter
from core.stores.postgres import PostgresBackend
from tests.core.test_store_conformance import Doc, Env, corpus, env, unit  # noqa: F401 (env: the fixture)

pytestmark = pytest.mark.parametrize(
    "env", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def hnsw_index(base: Env) -> str | None:
    with base.db.session() as session:
        return session.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
            {"n": f"kb_search_chunks_hnsw_{base.kb.id}"},
        )


def exact(docs: list[Doc], query: np.ndarray) -> list[int]:
    keys = np.asarray([k for d in docs for k in d.keys("conf")])
    return keys[np.argsort(-(np.vstack([d.vectors for d in docs]) @ query))[:10]].tolist()


def test_bulk_load_builds_the_index_once_at_the_end(env: Env) -> None:  # noqa: F811 (the fixture)
    backend = env.backend
    assert isinstance(backend, PostgresBackend)
    docs = corpus(40, 5)
    with backend.bulk_load(env.ref):
        env.write(docs[:20])
        assert hnsw_index(env) is None  # no graph maintained while loading
        env.write(docs[20:])
    definition = hnsw_index(env)
    assert definition is not None and "hnsw" in definition
    for query in unit(10, seed=99):
        assert env.vsearch(query, 10) == exact(docs, query)


def test_a_failed_bulk_load_leaves_exact_search_and_the_next_writer_rebuilds(env: Env) -> None:  # noqa: F811
    backend = env.backend
    assert isinstance(backend, PostgresBackend)
    docs = corpus(20, 5)
    with pytest.raises(RuntimeError), backend.bulk_load(env.ref):
        env.write(docs[:10])
        raise RuntimeError("the loading process fails here")
    assert hnsw_index(env) is None
    query = unit(1, seed=98)[0]
    assert env.vsearch(query, 10) == exact(docs[:10], query)  # no index: an exact scan, still right
    env.write(docs[10:])  # an ordinary write restores the index
    assert hnsw_index(env) is not None
    assert env.vsearch(query, 10) == exact(docs, query)


def test_the_search_query_can_use_the_partial_index(env: Env) -> None:  # noqa: F811 (the fixture)
    backend = env.backend
    assert isinstance(backend, PostgresBackend)
    env.write(corpus(10, 5))
    flt = StoreFilter(env.kb.id, groups=frozenset({"x"}))
    sql, params = backend.vectors(env.ref).query(unit(1)[0], 10, flt)
    with backend.session() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: cost alone picks a scan
        plan = "\n".join(session.scalars(text(f"EXPLAIN {sql.text}"), params).all())
    assert f"kb_search_chunks_hnsw_{env.kb.id}" in plan, plan
