"""BM25 index (bm25s, Lucene variant) over one knowledge base's chunks, keyed by int64 vector ids.

The sibling of ``VectorIndex``: same ids, same "filter before ranking" contract, saved atomically.
Terms come from ``core.text_tokenize.tokenize`` for documents and queries alike. On disk a directory
holds bm25s's own files (CSC score matrix as ``.npy``, vocabulary, parameters), ``ids.npy`` (row i of
the matrix is chunk ``ids[i]``) and ``meta.json`` (format and tokeniser signature). Loading
memory-maps the score matrix, so it costs little more than reading the vocabulary.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from functools import cached_property
from pathlib import Path

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized

from core.errors import KBError
from core.text_tokenize import tokenize, tokenizer_signature

log = logging.getLogger(__name__)

_FORMAT = 1
_META = "meta.json"
_IDS = "ids.npy"
_K1, _B, _METHOD = 1.2, 0.75, "lucene"


class SparseIndexError(KBError):
    """A persisted BM25 index is missing, damaged, or was built by an incompatible tokeniser."""


class _Vocabulary(dict[str, int]):
    """Term → column id, numbering a term the first time it is looked up (C-speed ``map`` lookups)."""

    def __missing__(self, term: str) -> int:
        self[term] = column = len(self)
        return column


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, np.float32), np.zeros(0, np.int64)


class SparseIndex:
    """BM25 over chunk texts keyed by int64 ids. Example::

    index = SparseIndex.build(np.array([7, 9]), ["refund policy", "travel expenses"])
    scores, ids = index.search("refunds", k=10, allowed_ids=np.array([7]))
    """

    def __init__(self, bm25: bm25s.BM25 | None, ids: np.ndarray) -> None:
        # bm25 is None when no document has a single term (empty corpus, or only stopwords).
        self._bm25 = bm25
        self._ids = np.ascontiguousarray(ids, dtype=np.int64)

    @classmethod
    def build(cls, ids: np.ndarray, texts: list[str]) -> SparseIndex:
        """Tokenise ``texts`` and build the index; ``ids[i]`` is the chunk id of ``texts[i]``."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts: they must be aligned")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("chunk ids must be unique")
        vocab = _Vocabulary()
        doc_term_ids = [list(map(vocab.__getitem__, tokenize(text))) for text in texts]
        if not vocab:
            return cls(None, ids)
        bm25 = bm25s.BM25(k1=_K1, b=_B, method=_METHOD)
        # Our own vocabulary (ids 0..V-1) goes in as a Tokenized; no empty-token column is added,
        # queries without known terms are answered before bm25s is asked.
        tokenized = Tokenized(ids=doc_term_ids, vocab=dict(vocab))
        bm25.index(tokenized, create_empty_token=False, show_progress=False)
        log.debug("BM25 index built: %d chunks, %d terms", len(ids), len(vocab))
        return cls(bm25, ids)

    @property
    def size(self) -> int:
        """Number of chunks indexed (including chunks that had no terms)."""
        return len(self._ids)

    def ids(self) -> np.ndarray:
        """All chunk ids, in matrix row order (int64)."""
        return self._ids.copy()

    @cached_property
    def _id_lookup(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self._ids, kind="stable")
        return self._ids[order], order

    def _rows_of(self, wanted: np.ndarray) -> np.ndarray:
        """Matrix rows of the wanted ids that are in the index (unknown ids are ignored)."""
        sorted_ids, order = self._id_lookup
        # Sorted needles keep searchsorted cache-friendly: ~3 ms for 50k of 100k hashed ids.
        wanted = np.sort(np.asarray(wanted, dtype=np.int64).reshape(-1))
        pos = np.searchsorted(sorted_ids, wanted)
        pos[pos == len(sorted_ids)] = 0
        return order[pos[sorted_ids[pos] == wanted]]

    def search(
        self, query: str, k: int, *, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores float32, ids int64), best first, only scores > 0.

        ``allowed_ids`` restricts scoring *before* top-k selection: other chunks get weight 0 and can
        neither take a slot nor be returned. An empty ``allowed_ids`` returns nothing.
        """
        if self._bm25 is None or k <= 0:
            return _empty()
        vocab = self._bm25.vocab_dict
        terms = [term for term in tokenize(query) if term in vocab]
        if not terms:
            return _empty()
        mask: np.ndarray | None = None
        if allowed_ids is not None:
            rows = self._rows_of(allowed_ids)
            if len(rows) == 0:
                return _empty()
            mask = np.zeros(self.size, dtype=np.float32)
            mask[rows] = 1.0
        # bm25s scores every document, multiplying by the mask (the same code path as
        # retrieve(weight_mask=...)). Top-k is taken here over the positive scores only: retrieve's
        # argpartition over all documents degrades to 12-18 ms at 100k docs when most scores are 0.
        scores = np.asarray(self._bm25.get_scores(terms, weight_mask=mask), dtype=np.float32)
        rows = np.flatnonzero(scores > 0)
        top = scores[rows]
        if len(rows) > k:
            best = np.argpartition(-top, k - 1)[:k]
            rows, top = rows[best], top[best]
        out_ids = self._ids[rows]
        order = np.lexsort((out_ids, -top))  # best first; ties broken by id, so results are stable
        return top[order], out_ids[order]

    def save(self, directory: Path) -> None:
        """Write to a temporary directory beside ``directory``, fsync, then rename it into place."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = _sibling(directory, "tmp")
        tmp.mkdir()  # plain mkdir, not mkdtemp: readers running as another user need the umask's mode
        try:
            self._write(tmp)
            _fsync_tree(tmp)
            _replace_dir(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write(self, directory: Path) -> None:
        np.save(directory / _IDS, self._ids)
        if self._bm25 is not None:
            self._bm25.save(directory, show_progress=False)
        meta = {
            "format": _FORMAT,
            "tokenizer": tokenizer_signature(),
            "size": self.size,
            "has_terms": self._bm25 is not None,
            "bm25s": bm25s.__version__,
        }
        (directory / _META).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path) -> SparseIndex:
        """Open a saved index; the score matrix is memory-mapped, not read."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / _META).read_text())
            ids = np.load(directory / _IDS)
        except (OSError, ValueError) as exc:
            raise SparseIndexError(f"{directory}: unreadable sparse index ({exc}); rebuild it") from exc
        if meta.get("format") != _FORMAT or meta.get("tokenizer") != tokenizer_signature():
            raise SparseIndexError(
                f"{directory}: built with format {meta.get('format')}, tokenizer {meta.get('tokenizer')!r}; "
                f"this version needs format {_FORMAT}, tokenizer {tokenizer_signature()!r}. Rebuild it."
            )
        if len(ids) != meta.get("size"):
            raise SparseIndexError(f"{directory}: ids.npy holds {len(ids)} ids, meta says {meta.get('size')}")
        if not meta.get("has_terms"):
            return cls(None, ids)
        try:
            bm25 = bm25s.BM25.load(directory, mmap=True, show_progress=False)
        except (OSError, ValueError) as exc:
            raise SparseIndexError(f"{directory}: unreadable BM25 files ({exc}); rebuild it") from exc
        if bm25.scores["num_docs"] != len(ids):
            raise SparseIndexError(
                f"{directory}: matrix has {bm25.scores['num_docs']} rows for {len(ids)} ids"
            )
        return cls(bm25, ids)


def _sibling(path: Path, suffix: str) -> Path:
    """A unique hidden name beside ``path``; ".<name>.*.tmp" is what IndexStore.cleanup sweeps up."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.{suffix}")


def _fsync_tree(directory: Path) -> None:
    for path in directory.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``; an existing ``dst`` is renamed away first and deleted after."""
    old: Path | None = None
    if dst.exists():
        old = _sibling(dst, "old.tmp")
        os.rename(dst, old)
    try:
        os.rename(src, dst)
    except OSError:
        if old is not None:
            os.rename(old, dst)  # put the previous index back rather than leave none
        raise
    _fsync_dir(dst.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
