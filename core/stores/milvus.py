"""The ``milvus`` backend: one Milvus collection per base, vectors (HNSW, cosine) and BM25 full-text.

``KB_MILVUS_URI`` as a file path runs milvus-lite inside this process (one process per data
directory); as ``http://host:19530`` it talks to a Milvus server or cluster (or to
``milvus-lite server``, which scripts/dev_services.sh starts). Permissions and metadata are filter
expressions on stored fields (``access``, ``tagset``, ``doc``, ``meta``).

Access groups and tags are stored twice: as arrays (readable) and as one *signature* string each
(the sorted names), which carries a scalar INVERTED index. A filter names the signatures present
in the base (read from SQL once per change of the base's documents) that admit the caller, e.g.
``access in ["", "hr", "finance|hr"]``: an indexed lookup on every engine, where per-row
``array_contains_any`` costs a Python loop in milvus-lite.

Keywords use Milvus' own BM25 function. Its input is our tokens (``core.text_tokenize``: English
stems, jieba-segmented Chinese, CJK bigrams) each spelled as a short hex digest, so any Milvus
analyzer keeps them whole and scores exactly the terms the other backends score.

Milvus is not in the SQL transaction, so a writer marks the base ``writing`` in SQL, and each batch
runs: upsert new rows → SQL commit → delete replaced rows; the mark is cleared when the writer is
done. A crash leaves at most rows SQL does not know (never served: hits are read from SQL, with
permissions re-checked there); the next writer sees the mark and removes them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase, touch_documents
from core.errors import ConfigError
from core.settings import Settings
from core.stores.base import BaseRef, ChunkEntry, Scored, StoreFilter, empty_scored, iter_batches
from core.stores.locks import writer_lock
from core.text_tokenize import tokenize

_META_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_BATCH = 1000
_MAX_TERMS_CHARS = 65535
# pymilvus pings every 10 s, idle or not; a gRPC server by default allows a ping only every 5 min
# without data and answers more with GOAWAY "too_many_pings", after which pymilvus failed to
# reconnect (seen against the milvus-lite server while another backend's migration kept the
# connection idle). No pings while idle, and none more often than servers accept.
_GRPC_OPTIONS = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}


def encode_terms(tokens: list[str]) -> str:
    """Tokens as space-separated hex digests: one analyzer token each, in every Milvus analyzer."""
    return " ".join("t" + hashlib.blake2b(t.encode(), digest_size=6).hexdigest() for t in tokens)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise ConfigError(f"metadata filter value {value!r}: only strings, numbers and booleans can be filtered")


def _strings(values: Iterable[str]) -> str:
    return "[" + ", ".join(_literal(v) for v in sorted(values)) + "]"


def signature(names: Iterable[str]) -> str:
    """A set of names as one string ("" for none); '|' inside a name is escaped."""
    return "|".join(sorted(n.replace("%", "%25").replace("|", "%7C") for n in set(names)))


def _names(sig: str) -> set[str]:
    return {n.replace("%7C", "|").replace("%25", "%") for n in sig.split("|")} if sig else set()


@dataclass(frozen=True)
class Signatures:
    """The access and tag signatures of a base's documents."""

    access: frozenset[str]
    tags: frozenset[str]


def filter_expression(flt: StoreFilter, sigs: Signatures) -> str | None:
    """The filter as a Milvus boolean expression ('' = everything; None = nothing can match)."""
    parts: list[str] = []
    if flt.groups is not None:
        allowed = [s for s in sigs.access if not s or _names(s) & flt.groups]
        if not allowed:
            return None
        parts.append(f"access in {_strings(allowed)}")
    if flt.document_ids is not None:
        if not flt.document_ids:
            return None
        parts.append(f"doc in {_strings(flt.document_ids)}")
    if flt.tags is not None:
        allowed = [s for s in sigs.tags if _names(s) & flt.tags]
        if not allowed:
            return None
        parts.append(f"tagset in {_strings(allowed)}")
    for key, value in flt.metadata.items():
        if not _META_KEY.match(key):
            raise ConfigError(f"metadata filter key {key!r}: use letters, digits and '_' only")
        # equal to the value, or a list holding it (meta_matches)
        literal = _literal(value)
        parts.append(f'(meta["{key}"] == {literal} or json_contains(meta["{key}"], {literal}))')
    return " and ".join(parts)


def _scored(hits: list[dict[str, Any]], bm25: bool = False) -> Scored:
    # milvus-lite reports BM25 as a negative distance, Milvus as a positive score: same magnitude.
    scores = [abs(h["distance"]) if bm25 else h["distance"] for h in hits]
    return np.asarray(scores, np.float32), np.asarray([h["key"] for h in hits], np.int64)


class MilvusVectorStore:
    """Cosine search in the base's collection; an exact pass over admitted rows if HNSW runs short."""

    def __init__(self, backend: MilvusBackend, kb: BaseRef) -> None:
        self.backend = backend
        self.kb = kb

    def search(self, vector: np.ndarray, k: int, flt: StoreFilter) -> Scored:
        name = self.backend.collection(self.kb.id)
        client = self.backend.client
        if k <= 0 or not client.has_collection(name):
            return empty_scored()
        expr = self.backend.expression(flt)
        if expr is None:
            return empty_scored()
        ef = max(self.backend.settings.milvus_ef, k)
        hits = client.search(
            name,
            data=[np.asarray(vector, np.float32).reshape(-1).tolist()],
            anns_field="vec",
            limit=k,
            filter=expr,
            output_fields=["key"],
            search_params={"metric_type": "COSINE", "params": {"ef": ef}},
        )[0]
        if len(hits) < k and expr:
            return self._exact(vector, k, expr)
        return _scored(list(hits))

    def _exact(self, vector: np.ndarray, k: int, expr: str) -> Scored:
        """Brute force over the admitted rows: what a narrow filter needs for k results."""
        keys: list[int] = []
        vecs: list[list[float]] = []
        iterator = self.backend.client.query_iterator(
            self.backend.collection(self.kb.id), batch_size=_BATCH, filter=expr, output_fields=["key", "vec"]
        )
        try:
            while rows := iterator.next():
                keys += [int(r["key"]) for r in rows]
                vecs += [r["vec"] for r in rows]
        finally:
            iterator.close()
        if not keys:
            return empty_scored()
        matrix = np.asarray(vecs, np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        query = np.asarray(vector, np.float32).reshape(-1)
        scores = matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
        top = np.argsort(-scores, kind="stable")[:k]
        return scores[top].astype(np.float32), np.asarray(keys, np.int64)[top]


class MilvusKeywordStore:
    """Milvus' BM25 full-text search over our encoded tokens."""

    def __init__(self, backend: MilvusBackend, kb: BaseRef) -> None:
        self.backend = backend
        self.kb = kb

    def search(self, query: str, k: int, flt: StoreFilter) -> Scored:
        name = self.backend.collection(self.kb.id)
        terms = encode_terms(sorted(set(tokenize(query))))
        if k <= 0 or not terms or not self.backend.client.has_collection(name):
            return empty_scored()
        expr = self.backend.expression(flt)
        if expr is None:
            return empty_scored()
        hits = self.backend.client.search(
            name,
            data=[terms],
            anns_field="sparse",
            limit=k,
            filter=expr,
            output_fields=["key"],
            search_params={"metric_type": "BM25"},
        )[0]
        return _scored(list(hits), bm25=True)


def _row(entry: ChunkEntry) -> dict[str, Any]:
    terms = encode_terms(tokenize(entry.text))
    if len(terms) > _MAX_TERMS_CHARS:  # a VARCHAR limit; BM25 then sees the chunk's first terms
        terms = terms[: terms.rfind(" ", 0, _MAX_TERMS_CHARS)]
    return {
        "key": int(entry.key),
        "vec": np.asarray(entry.vector, np.float32).reshape(-1).tolist(),
        "terms": terms,
        "doc": entry.document_id,
        "access": signature(entry.groups),
        "groups": sorted(entry.groups),
        "tagset": signature(entry.tags),
        "tags": sorted(entry.tags),
        "meta": dict(entry.metadata),
    }


class MilvusWriter:
    """Upserts before the SQL commit, deletes after it; the base is marked ``writing`` meanwhile."""

    def __init__(self, backend: MilvusBackend, kb: BaseRef) -> None:
        self.backend = backend
        self.kb = kb
        self._upserts: dict[int, ChunkEntry] = {}
        self._deletes: set[int] = set()
        self._access: list[tuple[str, list[str], list[str], Mapping[str, Any] | None]] = []

    def upsert(self, entries: Sequence[ChunkEntry]) -> None:
        for entry in entries:
            self._upserts[entry.key] = entry
            self._deletes.discard(entry.key)

    def delete(self, keys: Sequence[int]) -> None:
        for key in keys:
            self._deletes.add(int(key))
            self._upserts.pop(int(key), None)

    def set_access(
        self,
        document_id: str,
        groups: Sequence[str],
        tags: Sequence[str],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self._access.append((document_id, sorted(groups), sorted(tags), metadata))

    def stage(self, session: Any, kb_row: Any) -> None:
        touch_documents(session, [doc for doc, *_ in self._access])  # signatures reload
        if not (self._upserts or self._deletes or self._access):
            return
        self.backend.create_base(self.kb)
        name = self.backend.collection(self.kb.id)
        for part in iter_batches(list(self._upserts.values()), _BATCH):
            self.backend.client.upsert(name, [_row(e) for e in part])
        for document_id, groups, tags, meta in self._access:
            self.backend.set_access(self.kb, document_id, groups, tags, meta)
        self._upserts, self._access = {}, []

    def committed(self) -> None:
        if self._deletes:
            name = self.backend.collection(self.kb.id)
            for part in iter_batches(sorted(self._deletes), _BATCH):
                self.backend.client.delete(name, ids=list(part))
            self._deletes = set()


class MilvusBackend:
    """Milvus (server or milvus-lite) through pymilvus."""

    name = "milvus"

    def __init__(self, settings: Settings, db: Database) -> None:
        from pymilvus import MilvusClient

        self.settings = settings
        self.db = db
        uri = settings.milvus_uri or str(settings.data_dir / "milvus.db")
        if "://" not in uri:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        self.client = MilvusClient(uri=uri, token=settings.milvus_token or "", grpc_options=_GRPC_OPTIONS)
        self._signatures: dict[int, tuple[tuple[Any, ...], Signatures]] = {}

    def expression(self, flt: StoreFilter) -> str | None:
        return filter_expression(flt, self.signatures(flt.kb_id))

    def signatures(self, kb_id: int) -> Signatures:
        """The base's signatures, re-read from SQL only when its documents changed."""
        with self.db.session() as session:
            marker = session.execute(
                select(func.count(DocumentRow.id), func.max(DocumentRow.updated_at)).where(
                    DocumentRow.kb_id == kb_id
                )
            ).one()
            cached = self._signatures.get(kb_id)
            if cached is not None and cached[0] == tuple(marker):
                return cached[1]
            rows = session.execute(
                select(DocumentRow.access_groups, DocumentRow.scenario_tags).where(DocumentRow.kb_id == kb_id)
            ).all()
        sigs = Signatures(
            frozenset(signature(g or []) for g, _ in rows), frozenset(signature(t or []) for _, t in rows)
        )
        self._signatures[kb_id] = (tuple(marker), sigs)
        return sigs

    def collection(self, kb_id: int) -> str:
        return f"{self.settings.milvus_prefix}_{int(kb_id)}"

    def vectors(self, kb: BaseRef) -> MilvusVectorStore:
        return MilvusVectorStore(self, kb)

    def keywords(self, kb: BaseRef) -> MilvusKeywordStore:
        return MilvusKeywordStore(self, kb)

    def lock(self, kb_id: int, timeout: float = 600) -> Any:
        return writer_lock(self.db.engine, self.settings.data_dir / "locks", kb_id, self.name, timeout)

    @contextmanager
    def writer(self, kb: BaseRef) -> Iterator[MilvusWriter]:
        with self.lock(kb.id):
            if self._marked(kb.id):
                self.reconcile(kb)
            # Marked in its own committed transaction before any Milvus write, cleared only when
            # every batch committed: an exception or a crash in between leaves it for the repair.
            self.mark(kb.id, True)
            yield MilvusWriter(self, kb)
            if self.client.has_collection(self.collection(kb.id)):
                # Seal what was written so it is searched through its indexes, not scanned.
                self.client.flush(self.collection(kb.id))
            self.mark(kb.id, False)

    def create_base(self, kb: BaseRef) -> None:
        from pymilvus import DataType, Function, FunctionType

        name = self.collection(kb.id)
        if not kb.dim or self.client.has_collection(name):
            return
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("key", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=int(kb.dim))
        schema.add_field(
            "terms",
            DataType.VARCHAR,
            max_length=_MAX_TERMS_CHARS,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("doc", DataType.VARCHAR, max_length=64)
        schema.add_field("access", DataType.VARCHAR, max_length=8192)
        schema.add_field("tagset", DataType.VARCHAR, max_length=8192)
        schema.add_field(
            "groups", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=256, max_length=64
        )
        schema.add_field(
            "tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=256, max_length=64
        )
        schema.add_field("meta", DataType.JSON)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        index = self.client.prepare_index_params()
        index.add_index(
            "vec", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200}
        )
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        for scalar in ("access", "tagset", "doc"):
            index.add_index(scalar, index_type="INVERTED")
        self.client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")

    def drop_base(self, kb_id: int) -> None:
        name = self.collection(kb_id)
        if self.client.has_collection(name):
            self.client.drop_collection(name)

    def keys(self, kb: BaseRef) -> np.ndarray:
        name = self.collection(kb.id)
        if not self.client.has_collection(name):
            return np.zeros(0, np.int64)
        keys: list[int] = []
        iterator = self.client.query_iterator(name, batch_size=_BATCH * 5, filter="", output_fields=["key"])
        try:
            while rows := iterator.next():
                keys += [int(r["key"]) for r in rows]
        finally:
            iterator.close()
        return np.asarray(keys, np.int64)

    def export(self, kb: BaseRef, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        name = self.collection(kb.id)
        if not self.client.has_collection(name):
            return
        iterator = self.client.query_iterator(name, batch_size=batch, filter="", output_fields=["key", "vec"])
        try:
            while rows := iterator.next():
                yield (
                    np.asarray([r["key"] for r in rows], np.int64),
                    np.asarray([r["vec"] for r in rows], np.float32),
                )
        finally:
            iterator.close()

    def set_access(
        self,
        kb: BaseRef,
        document_id: str,
        groups: list[str],
        tags: list[str],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Rewrite a document's filter fields (Milvus upserts whole rows, so read them first)."""
        name = self.collection(kb.id)
        if not self.client.has_collection(name):
            return
        rows = self.client.query(
            name,
            filter=f"doc == {_literal(document_id)}",
            output_fields=["key", "vec", "terms", "doc", "meta"],
        )
        for row in rows:
            row.update(access=signature(groups), groups=groups, tagset=signature(tags), tags=tags)
            if metadata is not None:
                row["meta"] = dict(metadata)
            row.pop("sparse", None)
        for part in iter_batches(list(rows), _BATCH):
            self.client.upsert(name, list(part))

    # ------------------------------------------------------------ crash repair
    def mark(self, kb_id: int, writing: bool) -> None:
        with self.db.session() as session:
            row = session.get(KnowledgeBase, kb_id)
            if row is not None:
                row.store_state = "writing" if writing else ""

    def _marked(self, kb_id: int) -> bool:
        with self.db.session() as session:
            row = session.get(KnowledgeBase, kb_id)
            return row is not None and row.store_state == "writing"

    def reconcile(self, kb: BaseRef) -> None:
        """Make the collection match SQL after a crashed write: drop unknown rows, re-apply access."""
        with self.db.session() as session:
            sql_keys = np.asarray(
                session.scalars(select(ChunkRow.vector_id).where(ChunkRow.kb_id == kb.id)).all(), np.int64
            )
            docs = session.execute(
                select(DocumentRow.id, DocumentRow.access_groups, DocumentRow.scenario_tags).where(
                    DocumentRow.kb_id == kb.id
                )
            ).all()
        extra = np.setdiff1d(self.keys(kb), sql_keys)
        for part in iter_batches(extra.tolist(), _BATCH):
            self.client.delete(self.collection(kb.id), ids=list(part))
        for doc_id, groups, tags in docs:
            self.set_access(kb, doc_id, sorted(groups or []), sorted(tags or []))
        self.mark(kb.id, False)
