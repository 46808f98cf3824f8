"""Text → BM25 terms: lowercase words and numbers, English stopwords out, Snowball stems, CJK segmented.

Latin (and other space-separated) scripts become lowercase word/number tokens; numbers keep their
decimals and lose thousands separators (``$1,200`` → ``1200``, ``14.5`` → ``14.5``). Chinese Han runs
are segmented with jieba in search mode (words plus their sub-words, so a query segmented differently
from the passage still meets it), or cut into character bigrams when jieba is not installed. Kana and
Hangul runs become character bigrams (Lucene's CJK approach), which copes with Korean particles and
unsegmented Japanese without a morphological analyser.

Documents and queries must go through the same function; ``tokenizer_signature()`` names the behaviour
so a persisted index can tell when it was built by a different tokeniser.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable

import Stemmer

# Bump the leading version whenever a change here would give different tokens for the same text.
_VERSION = "kbtok-1"

_HAN = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\U00030000-\U0003134f"
# Katakana without U+30FB (the middle dot), which is punctuation.
_KANA = "\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
_HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
_CJK = _HAN + _KANA + _HANGUL

# A word is a run of letters/digits; a trailing ".<digits>" keeps decimals and versions (14.5, 3.11.2).
_WORD_RE = re.compile(r"[^\W_]+(?:\.\d+)*")
_ASCII_WORD_RE = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")
_HAS_CJK_RE = re.compile(f"[{_CJK}]")
_MIXED_RE = re.compile(f"([{_HAN}]+)|([{_KANA}]+)|([{_HANGUL}]+)|((?:(?![{_CJK}])[^\\W_])+(?:\\.\\d+)*)")
# "1,200,000" → "1200000"; "2020,2021" (four digits after the comma) is left as two numbers.
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")

# Small on purpose: function words only. "it" stays (IT department), "no"/"not" stay (negation).
_ENGLISH_STOPWORDS = """
a an and are as at be been but by did do does for from had has have he her his i if in into is its of on or
our she so such than that the their them then there these they this those to was we were what when where
which who will with would you your s t d ll re ve m
"""
ENGLISH_STOPWORDS = frozenset(_ENGLISH_STOPWORDS.split())
# Very frequent Chinese function words that jieba emits as single tokens.
_CHINESE_STOPWORDS = "的 了 是 在 和 与 及 或 也 都 就 而 把 被 对 从 这 那 之 为 着 吗 呢 吧 啊"
CHINESE_STOPWORDS = frozenset(_CHINESE_STOPWORDS.split())

_local = threading.local()  # a PyStemmer object must not be shared between threads
# word → stem ("" for stopwords). Most words repeat, and a dict lookup is ~5x cheaper than stemming.
_term_cache: dict[str, str] = {}
_TERM_CACHE_SIZE = 500_000
_jieba_lock = threading.Lock()
_jieba_cut: Callable[[str], list[str]] | None = None
_jieba_loaded = False


def _han_cutter() -> Callable[[str], list[str]] | None:
    """jieba's search-mode cutter, imported on first use (its dictionary loads lazily); None without jieba."""
    global _jieba_cut, _jieba_loaded
    if not _jieba_loaded:
        with _jieba_lock:
            if not _jieba_loaded:
                try:
                    import jieba
                except ImportError:
                    _jieba_cut = None
                else:
                    jieba.setLogLevel(logging.WARNING)
                    _jieba_cut = jieba.lcut_for_search
                _jieba_loaded = True
    return _jieba_cut


def tokenizer_signature() -> str:
    """Names the tokeniser's behaviour (version, stemmer, Han segmenter) for index compatibility checks."""
    han = "jieba" if _han_cutter() is not None else "bigram"
    return f"{_VERSION};stem=snowball-english;han={han}"


def _bigrams(run: str) -> list[str]:
    if len(run) < 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _cjk_aware_words(text: str) -> list[str]:
    """Words of text that contains CJK: Han runs segmented, kana/Hangul bigrammed, the rest as words."""
    cut = _han_cutter()
    words: list[str] = []
    for han, kana, hangul, word in _MIXED_RE.findall(text):
        if word:
            words.append(word)
        elif han:
            pieces = cut(han) if cut is not None else _bigrams(han)
            words.extend(p for p in pieces if p not in CHINESE_STOPWORDS)
        else:
            words.extend(_bigrams(kana or hangul))
    return words


def tokenize(text: str) -> list[str]:
    """BM25 terms of ``text``. Example: ``tokenize("Refunds of $1,200")`` → ``['refund', '1200']``."""
    ascii_only = text.isascii()
    # NFKC folds full-width letters/digits and ligatures, common in CJK and PDF-extracted text.
    text = text.lower() if ascii_only else unicodedata.normalize("NFKC", text).lower()
    if "," in text:
        text = _THOUSANDS_RE.sub("", text)
    if ascii_only:
        words = _ASCII_WORD_RE.findall(text)
    else:
        words = _cjk_aware_words(text) if _HAS_CJK_RE.search(text) else _WORD_RE.findall(text)
    terms = list(map(_term_cache.get, words))
    if None in terms:
        for i, term in enumerate(terms):
            if term is None:
                terms[i] = _term_of(words[i])
    return list(filter(None, terms))


def _term_of(word: str) -> str:
    """The indexed form of one word ("" for a stopword), remembered in a bounded cache."""
    if len(_term_cache) >= _TERM_CACHE_SIZE:
        _term_cache.clear()
    stemmer: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    # Snowball English leaves digits and CJK untouched; it folds policy/policies, return/returned.
    term = "" if word in ENGLISH_STOPWORDS else stemmer.stemWord(word)
    _term_cache[word] = term
    return term
