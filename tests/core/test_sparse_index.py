"""BM25 index: tokenisation (English, numbers, CJK), ranking, filtering before ranking, atomic saves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core import text_tokenize
from core.stores.faiss import sparse_index
from core.stores.faiss.sparse_index import SparseIndex, SparseIndexError
from core.text_tokenize import tokenize, tokenizer_signature

ENGLISH = {
    101: "Expense reimbursement: submit receipts within 30 days of travel to get reimbursed.",
    102: "The refund policy allows returns of unused items within 14 days of purchase.",
    103: "Annual leave: employees accrue 25 days of paid vacation per calendar year.",
    104: "Laptop purchases above $1,200 need approval from the IT department.",
    105: "The 2023 budget grew by 14.5% compared with the previous year.",
    106: "Security training is mandatory for every new employee during onboarding.",
}
CHINESE = {
    201: "退货政策：商品签收后七天内可以无理由退货，退款在三个工作日内到账。",
    202: "出差报销需要在出差结束后三十天内提交发票和行程单。",
    203: "员工每年享有带薪年假，年假天数根据工龄计算。",
    204: "如何配置VPN连接：下载客户端，使用公司账号登录。",
    205: "The VPN client must be updated before connecting from home.",
}


def build(corpus: dict[int, str]) -> SparseIndex:
    return SparseIndex.build(np.array(list(corpus), dtype=np.int64), list(corpus.values()))


def top_ids(index: SparseIndex, query: str, k: int = 10, **kwargs: object) -> list[int]:
    return index.search(query, k, **kwargs)[1].tolist()  # type: ignore[arg-type]


def assert_empty(result: tuple[np.ndarray, np.ndarray]) -> None:
    scores, ids = result
    assert scores.shape == (0,) and ids.shape == (0,)
    assert scores.dtype == np.float32 and ids.dtype == np.int64


# --- tokenizer -------------------------------------------------------------------------------------


def test_tokenize_english_words_numbers_and_stopwords() -> None:
    tokens = tokenize("The refunds of $1,200 were paid in 2023 at 14.5% (v3.11.2)!")
    assert tokens == ["refund", "1200", "paid", "2023", "14.5", "v3.11.2"]
    assert tokenize("Policies") == tokenize("policy")  # Snowball stemming folds inflections
    assert tokenize("1,234,567 and 2020,2021") == ["1234567", "2020", "2021"]
    assert tokenize("the of and") == [] and tokenize("") == []


def test_tokenize_non_ascii_latin_and_full_width() -> None:
    assert tokenize("Ｒｅｆｕｎｄ ２０２３ — café") == ["refund", "2023", "café"]


def test_tokenize_cjk_scripts() -> None:
    chinese = tokenize("我们的退货政策是什么？")
    assert {"退货", "政策"} <= set(chinese) and "的" not in chinese
    assert tokenize("使用GPU加速")[:2] == ["使用", "gpu"]  # Latin inside a Han run is its own token
    assert {"환불", "정책"} <= set(tokenize("환불 정책은 무엇입니까"))  # Hangul bigrams absorb particles
    assert "データ" not in tokenize("データベース") and "デー" in tokenize("データベース")


def test_tokenize_numbers_and_latin_inside_chinese() -> None:
    # full-width digits fold to ASCII, numbers glued to Han characters stay whole numbers
    assert tokenize("营收３.５亿元，同比增长１２％") == ["营收", "3.5", "亿元", "同比", "增长", "12"]
    assert tokenize("１，２００元") == ["1200", "元"]
    assert tokenize("iPhone15发布会在2023年９月举行")[:4] == ["iphone15", "发布", "发布会", "2023"]
    assert tokenize("使用Python3.11和PyTorch") == ["使用", "python3.11", "pytorch"]
    assert tokenize("ＡＢＣ公司的Q3财报") == ["abc", "公司", "q3", "财报"]


def test_tokenize_han_bigram_fallback_without_jieba(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_tokenize, "_jieba_cut", None)
    monkeypatch.setattr(text_tokenize, "_jieba_loaded", True)
    assert tokenize("退货政策") == ["退货", "货政", "政策"]
    assert tokenize("货") == ["货"]
    assert tokenizer_signature().endswith("han=bigram")


# --- ranking ---------------------------------------------------------------------------------------


def test_exact_terms_rank_the_matching_passage_first() -> None:
    index = build(ENGLISH)
    scores, ids = index.search("expense reimbursement receipts", 10)
    assert ids[0] == 101 and ids.dtype == np.int64 and scores.dtype == np.float32
    assert list(scores) == sorted(scores, reverse=True) and (scores > 0).all()
    assert top_ids(index, "refunds for returned items")[0] == 102  # stemmed forms still match
    assert top_ids(index, "security training onboarding") == [106]


def test_numbers_are_searchable() -> None:
    index = build(ENGLISH)
    assert top_ids(index, "$1,200") == [104]
    assert top_ids(index, "1200 laptop")[0] == 104
    assert top_ids(index, "14.5") == [105]
    assert top_ids(index, "2023") == [105]
    assert top_ids(index, "30 days")[0] == 101


def test_chinese_query_finds_chinese_passage() -> None:
    index = build({**ENGLISH, **CHINESE})
    assert top_ids(index, "退货政策")[0] == 201
    assert top_ids(index, "我们的退货政策是什么？")[0] == 201
    assert top_ids(index, "出差报销")[0] == 202
    assert top_ids(index, "年假")[0] == 203


def test_mixed_chinese_and_english() -> None:
    index = build({**ENGLISH, **CHINESE})
    assert top_ids(index, "VPN连接")[0] == 204
    assert set(top_ids(index, "vpn")) == {204, 205}
    assert top_ids(index, "VPN client updated")[0] == 205


def test_k_larger_than_corpus() -> None:
    index = build(ENGLISH)
    scores, ids = index.search("days", 1000)
    assert sorted(ids.tolist()) == [101, 102, 103]  # every match, and only matches
    assert len(index.search("days", 2)[1]) == 2
    assert_empty(index.search("days", 0))


# --- filtering before ranking ----------------------------------------------------------------------


def test_allowed_ids_exclude_a_document_even_for_its_own_wording() -> None:
    index = build({**ENGLISH, **CHINESE})
    query = ENGLISH[102]
    assert top_ids(index, query)[0] == 102
    allowed = np.array([i for i in (*ENGLISH, *CHINESE) if i != 102], dtype=np.int64)
    scores, ids = index.search(query, 10, allowed_ids=allowed)
    assert 102 not in ids.tolist()
    assert {101, 103} <= set(ids.tolist())  # other documents sharing words still come back
    assert (scores > 0).all()
    # The excluded document never takes a slot: k=1 still yields one allowed hit.
    assert top_ids(index, query, 1, allowed_ids=allowed) == [ids[0]]


def test_allowed_ids_restrict_to_the_given_set() -> None:
    index = build({**ENGLISH, **CHINESE})
    assert top_ids(index, "退货政策", allowed_ids=np.array([202, 203, 999])) == []
    assert top_ids(index, "days", allowed_ids=np.array([103, 999])) == [103]
    assert top_ids(index, "days", allowed_ids=[103, 103]) == [103]  # duplicates, plain lists


def test_empty_allowed_set_and_unknown_ids_return_nothing() -> None:
    index = build(ENGLISH)
    assert_empty(index.search("refund policy", 10, allowed_ids=np.array([], dtype=np.int64)))
    assert_empty(index.search("refund policy", 10, allowed_ids=np.array([12345])))


def test_unknown_or_stopword_only_queries_return_nothing() -> None:
    index = build(ENGLISH)
    assert_empty(index.search("xylophone zeppelin", 10))
    assert_empty(index.search("the of and", 10))
    assert_empty(index.search("", 10))
    assert_empty(index.search("未知词语", 10))
    assert top_ids(index, "xylophone refund") == [102]  # unknown terms are simply ignored


# --- empty corpus and validation -------------------------------------------------------------------


def test_empty_corpus(tmp_path: Path) -> None:
    index = SparseIndex.build(np.array([], dtype=np.int64), [])
    assert index.size == 0 and index.ids().shape == (0,)
    assert_empty(index.search("anything", 10))
    assert_empty(index.search("anything", 10, allowed_ids=np.array([1])))
    index.save(tmp_path / "sparse")
    assert SparseIndex.load(tmp_path / "sparse").size == 0


def test_corpus_without_any_terms(tmp_path: Path) -> None:
    index = SparseIndex.build(np.array([3, 4]), ["", "the of and"])
    assert index.size == 2
    assert_empty(index.search("the", 10))
    index.save(tmp_path / "sparse")
    loaded = SparseIndex.load(tmp_path / "sparse")
    assert loaded.ids().tolist() == [3, 4]
    assert_empty(loaded.search("anything", 10))


def test_build_rejects_misaligned_or_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="aligned"):
        SparseIndex.build(np.array([1, 2]), ["one"])
    with pytest.raises(ValueError, match="unique"):
        SparseIndex.build(np.array([1, 1]), ["one", "two"])


# --- persistence -----------------------------------------------------------------------------------


QUERIES = ["refund policy", "退货政策", "VPN连接", "$1,200", "days", "2023 budget", "nothing here"]


def test_save_load_round_trip_gives_identical_results(tmp_path: Path) -> None:
    corpus = {**ENGLISH, **CHINESE}
    index = build(corpus)
    target = tmp_path / "kb" / "sparse.v1.bm25"
    index.save(target)
    loaded = SparseIndex.load(target)
    assert loaded.size == index.size and loaded.ids().tolist() == index.ids().tolist()
    allowed = np.array([101, 102, 201, 204])
    for query in QUERIES:
        for kwargs in ({}, {"allowed_ids": allowed}):
            (s1, i1), (s2, i2) = index.search(query, 5, **kwargs), loaded.search(query, 5, **kwargs)
            assert i1.tolist() == i2.tolist()
            np.testing.assert_array_equal(s1, s2)


def test_save_replaces_existing_directory_and_leaves_no_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "sparse.v1.bm25"
    build(ENGLISH).save(target)
    build(CHINESE).save(target)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    loaded = SparseIndex.load(target)
    assert sorted(loaded.ids().tolist()) == sorted(CHINESE)
    assert top_ids(loaded, "退货政策")[0] == 201


def test_failed_save_keeps_the_previous_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "sparse.v1.bm25"
    build(ENGLISH).save(target)

    def crash(self: SparseIndex, directory: Path) -> None:
        (directory / "ids.npy").write_bytes(b"half written")
        raise OSError("disk full")

    monkeypatch.setattr(SparseIndex, "_write", crash)
    with pytest.raises(OSError, match="disk full"):
        build(CHINESE).save(target)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert sorted(SparseIndex.load(target).ids().tolist()) == sorted(ENGLISH)


def test_load_rejects_missing_or_incompatible_index(tmp_path: Path) -> None:
    with pytest.raises(SparseIndexError, match="unreadable"):
        SparseIndex.load(tmp_path / "absent")
    target = tmp_path / "sparse"
    build(ENGLISH).save(target)
    meta = json.loads((target / sparse_index._META).read_text())
    (target / sparse_index._META).write_text(json.dumps({**meta, "tokenizer": "other-tokenizer"}))
    with pytest.raises(SparseIndexError, match="Rebuild"):
        SparseIndex.load(target)
