"""pgvector backend keywords: BM25 in SQL equals BM25 computed by hand, shortcut for rare terms included."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from core.stores.base import StoreFilter
from core.text_tokenize import tokenize
from tests.core.test_store_conformance import Doc, Env, env, unit  # noqa: F401 (env: the fixture)

K1, B = 1.2, 0.75


def bm25(texts: dict[int, str], query: str) -> dict[int, float]:
    tokens = {key: tokenize(body) for key, body in texts.items()}
    df = Counter(t for toks in tokens.values() for t in set(toks))
    n, avgdl = len(tokens), sum(len(t) for t in tokens.values()) / len(tokens)
    scores: dict[int, float] = {}
    for key, toks in tokens.items():
        tf = Counter(toks)
        score = 0.0
        for term in set(tokenize(query)):
            if tf[term]:
                idf = np.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                score += idf * tf[term] / (tf[term] + K1 * (1 - B + B * len(toks) / avgdl))
        if score > 0:
            scores[key] = score
    return scores


@pytest.mark.parametrize("env", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
@pytest.mark.parametrize("candidates", [2000, 3])
def test_bm25_in_sql_matches_the_formula(
    env: Env,  # noqa: F811 (the imported fixture)
    candidates: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 3 candidates: every query widens round by round (MaxScore) and must still end exact
    monkeypatch.setattr("core.stores.postgres._CANDIDATES", candidates)
    rng = np.random.default_rng(5)
    common = ["policy", "employee", "company", "time", "leave", "manager"]
    docs = [
        Doc(
            f"d{d}.txt",
            [
                " ".join(rng.choice(common, 6 + c)) + (f" zebra{d % 7}" if c % 3 == 0 else "")
                for c in range(10)
            ],
            unit(10, seed=d),
            groups=["staff"] if d % 2 == 0 else ["other"],
        )
        for d in range(60)
    ]
    env.write(docs)
    texts = {key: body for doc in docs for key, body in zip(doc.keys("conf"), doc.texts, strict=True)}
    staff = {key for doc in docs if doc.groups == ["staff"] for key in doc.keys("conf")}
    store = env.backend.keywords(env.ref)
    # rare terms decide alone (the shortcut), common terms only (every match scored), and a mix;
    # with and without a permission filter (statistics cover the base, scores only admitted rows)
    for query, groups in itertools.product(
        ("policy employee zebra3", "company time zebra5 zebra6", "policy time leave"), (None, {"staff"})
    ):
        scores, keys = store.search(query, 10, StoreFilter(env.kb.id, groups=groups and frozenset(groups)))
        admitted = (
            bm25(texts, query).items()
            if groups is None
            else [kv for kv in bm25(texts, query).items() if kv[0] in staff]
        )
        ranked = sorted(admitted, key=lambda kv: (-kv[1], kv[0]))
        expected = ranked[:10]
        assert np.allclose(scores, [v for _, v in expected], atol=1e-4)
        if len(ranked) == 10 or ranked[9][1] - ranked[10][1] > 1e-6:  # no tie across the cut
            assert set(keys.tolist()) == {k for k, _ in expected}
