"""The ``postgres`` backend: pgvector (HNSW, cosine) and BM25 over a text index, in the SQL database.

Search rows live in ``kb_search_chunks`` beside the chunk rows (same database, same transaction;
a foreign key with ON DELETE CASCADE removes them with their chunk), so SQL and search data can
never disagree. Each base has its own partial HNSW index over ``embedding::vector(dim)`` (the
dimension comes from the base's record). Iterative index scans keep a narrow permission filter
returning k rows, and when the index still runs short an exact scan over the admitted rows does.

Keywords: the text goes through ``core.text_tokenize`` (English stems, Chinese segmented with jieba,
CJK bigrams) into a ``tsvector`` whose positions give term frequencies; a GIN index finds the
matching rows and BM25 (the same Lucene formula as the bm25s backend) ranks them, with document
frequencies kept per base by statement-level triggers in the writing transaction.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import text

from core.db import Database
from core.errors import ConfigError
from core.settings import Settings
from core.stores.base import BaseRef, ChunkEntry, Scored, StoreFilter, empty_scored, iter_batches
from core.stores.locks import AdvisoryWriterLock
from core.text_tokenize import tokenize

TABLE = "kb_search_chunks"
_K1, _B = 1.2, 0.75  # as the bm25s backend (core.stores.faiss.sparse_index)
# HNSW graph of each base: see "Search backends: notes on the figures" in docs/benchmarks.md.
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64
_CANDIDATES = 2000  # rows the first keyword round may score (MaxScore, PgKeywordStore)
_SCHEMA_LOCK = 0x6B62_7363  # advisory key serialising the DDL below between processes

_DDL = f"""
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS {TABLE} (
    kb_id integer NOT NULL,
    key bigint NOT NULL,
    chunk_id varchar(64) NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    document_id varchar(32) NOT NULL,
    embedding vector NOT NULL,
    terms tsvector NOT NULL,
    n_terms integer NOT NULL,
    groups text[] NOT NULL,
    tags text[] NOT NULL,
    meta jsonb NOT NULL,
    PRIMARY KEY (kb_id, key)
);
CREATE INDEX IF NOT EXISTS {TABLE}_terms ON {TABLE} USING gin (terms);
CREATE INDEX IF NOT EXISTS {TABLE}_document ON {TABLE} (document_id);
CREATE INDEX IF NOT EXISTS {TABLE}_chunk ON {TABLE} (chunk_id);
CREATE TABLE IF NOT EXISTS kb_search_terms (
    kb_id integer NOT NULL, term text NOT NULL, df integer NOT NULL, PRIMARY KEY (kb_id, term)
);
CREATE TABLE IF NOT EXISTS kb_search_stats (
    kb_id integer PRIMARY KEY, n bigint NOT NULL, total_terms bigint NOT NULL
);
CREATE OR REPLACE FUNCTION kb_search_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kb_search_terms AS t (kb_id, term, df)
        SELECT kb_id, lexeme, count(*) FROM new_rows, unnest(tsvector_to_array(terms)) AS lexeme
        GROUP BY kb_id, lexeme
        ON CONFLICT (kb_id, term) DO UPDATE SET df = t.df + excluded.df;
    INSERT INTO kb_search_stats AS s (kb_id, n, total_terms)
        SELECT kb_id, count(*), sum(n_terms) FROM new_rows GROUP BY kb_id
        ON CONFLICT (kb_id) DO UPDATE
        SET n = s.n + excluded.n, total_terms = s.total_terms + excluded.total_terms;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION kb_search_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE kb_search_terms AS t SET df = t.df - gone.c
        FROM (SELECT kb_id, lexeme, count(*) AS c FROM old_rows, unnest(tsvector_to_array(terms)) AS lexeme
              GROUP BY kb_id, lexeme) AS gone
        WHERE t.kb_id = gone.kb_id AND t.term = gone.lexeme;
    UPDATE kb_search_stats AS s SET n = s.n - gone.c, total_terms = s.total_terms - gone.t
        FROM (SELECT kb_id, count(*) AS c, sum(n_terms) AS t FROM old_rows GROUP BY kb_id) AS gone
        WHERE s.kb_id = gone.kb_id;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER {TABLE}_added AFTER INSERT ON {TABLE}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kb_search_count_added();
CREATE OR REPLACE TRIGGER {TABLE}_removed AFTER DELETE ON {TABLE}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION kb_search_count_removed();
"""


def _hnsw_name(kb_id: int) -> str:
    return f"{TABLE}_hnsw_{int(kb_id)}"


def _base_rows(kb: BaseRef) -> str:
    """The predicate of the base's partial HNSW index.

    The dimension is part of it because CREATE INDEX also indexes rows deleted moments ago that an
    older snapshot may still see: after a re-embed to another model, the old vectors would otherwise
    fail the cast to the new dimension.
    """
    return f"kb_id = {int(kb.id)} AND vector_dims(embedding) = {int(kb.dim)}"


def _quote(lexeme: str) -> str:
    """A lexeme as a tsvector/tsquery literal (no parsing, no normalisation by PostgreSQL)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(tokens: list[str]) -> str:
    """Our tokens as a tsvector with positions (so term frequencies survive)."""
    positions: dict[str, list[int]] = {}
    for pos, token in enumerate(tokens, start=1):
        positions.setdefault(token, []).append(min(pos, 16383))
    return " ".join(f"{_quote(t)}:{','.join(map(str, p[:256]))}" for t, p in positions.items())


def _where(flt: StoreFilter) -> tuple[str, dict[str, Any]]:
    # kb_id is inlined (an int from our own row) so the planner matches the base's partial index.
    parts: list[str] = [f"kb_id = {int(flt.kb_id)}"]
    params: dict[str, Any] = {}
    if flt.groups is not None:
        parts.append("(cardinality(groups) = 0 OR groups && CAST(:groups AS text[]))")
        params["groups"] = sorted(flt.groups)
    if flt.document_ids is not None:
        parts.append("document_id = ANY(CAST(:docs AS text[]))")
        params["docs"] = sorted(flt.document_ids)
    if flt.tags is not None:
        parts.append("tags && CAST(:tags AS text[])")
        params["tags"] = sorted(flt.tags)
    for i, (key, value) in enumerate(sorted(flt.metadata.items())):
        # equal to the value, or a list holding it (meta_matches); both forms use the GIN index
        parts.append(f"(meta @> CAST(:meta{i} AS jsonb) OR meta @> CAST(:metalist{i} AS jsonb))")
        params[f"meta{i}"] = json.dumps({key: value})
        params[f"metalist{i}"] = json.dumps({key: [value]})
    return " AND ".join(parts), params


def _fit(terms: list[str], df: Mapping[str, int], take: int, budget: int) -> int:
    """How many of ``terms`` (rarest first) to match: one more than ``take``, then all that fit ``budget``."""
    n = take + 1
    total = sum(df[t] for t in terms[:n])
    while n < len(terms) and total + df[terms[n]] <= budget:
        total += df[terms[n]]
        n += 1
    return n


class PgVectorStore:
    """Cosine search with the base's HNSW index, iterative scans, and an exact fallback."""

    def __init__(self, backend: PostgresBackend, kb: BaseRef) -> None:
        self.backend = backend
        self.kb = kb

    def query(self, vector: np.ndarray, k: int, flt: StoreFilter) -> tuple[Any, dict[str, Any]]:
        """The top-k statement and its parameters."""
        where, params = _where(flt)
        where += f" AND {_base_rows(self.kb)}"  # as the partial index says, so the planner uses it
        cast = f"embedding::vector({int(self.kb.dim)})"
        sql = text(
            f"SELECT key, 1 - ({cast} <=> CAST(:q AS vector({int(self.kb.dim)}))) AS score "
            f"FROM {TABLE} WHERE {where} ORDER BY {cast} <=> CAST(:q AS vector({int(self.kb.dim)})) LIMIT :k"
        )
        return sql, params | {"q": np.asarray(vector, np.float32).reshape(-1), "k": k}

    def search(self, vector: np.ndarray, k: int, flt: StoreFilter) -> Scored:
        if k <= 0 or not self.kb.dim:
            return empty_scored()
        sql, params = self.query(vector, k, flt)
        s = self.backend.settings
        with self.backend.session() as session:
            # SET LOCAL: this transaction only, so a pooled connection never carries it to another query.
            session.execute(text(f"SET LOCAL hnsw.ef_search = {min(1000, max(int(s.pg_ef_search), k))}"))
            session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            session.execute(text(f"SET LOCAL hnsw.max_scan_tuples = {int(s.pg_max_scan_tuples)}"))
            rows = session.execute(sql, params).all()
            if len(rows) < k and not flt.unrestricted:
                # The index gave up before finding k admitted rows (a very narrow filter): scan the
                # admitted rows exactly instead, so a permission filter never silently shrinks results.
                session.execute(text("SET LOCAL enable_indexscan = off"))
                rows = session.execute(sql, params).all()
        rows.sort(key=lambda r: (-r[1], r[0]))  # relaxed order: re-sort what the scan returned
        return np.asarray([r[1] for r in rows], np.float32), np.asarray([r[0] for r in rows], np.int64)


class PgKeywordStore:
    """BM25 over the base's rows whose text index matches any query term."""

    def __init__(self, backend: PostgresBackend, kb: BaseRef) -> None:
        self.backend = backend
        self.kb = kb

    def search(self, query: str, k: int, flt: StoreFilter) -> Scored:
        terms = sorted(set(tokenize(query)))
        if k <= 0 or not terms:
            return empty_scored()
        where, params = _where(flt)
        with self.backend.session() as session:
            stats = session.execute(
                text("SELECT n, total_terms FROM kb_search_stats WHERE kb_id = :kb"), {"kb": self.kb.id}
            ).first()
            if stats is None or not stats[0]:
                return empty_scored()
            df = dict(
                session.execute(
                    text(
                        "SELECT term, df FROM kb_search_terms"
                        " WHERE kb_id = :kb AND term = ANY(:terms) AND df > 0"
                    ),
                    {"kb": self.kb.id, "terms": terms},
                ).all()
            )
            if not df:
                return empty_scored()
            n, avgdl = stats[0], max(stats[1] / stats[0], 1e-9)
            idf = {t: float(np.log(1 + (n - f + 0.5) / (f + 0.5))) for t, f in df.items()}
            # MaxScore: score only the rows holding one of the rarest terms. A row holding none of
            # them scores below the other terms' summed idf (each term adds less than its idf), so
            # once the k-th score reaches that bound the top k is exact; until then widen the set
            # (4x the candidate budget per round), never straight to every row of a common word.
            by_rarity = sorted(idf, key=lambda t: (-idf[t], t))
            take, budget = 0, max(_CANDIDATES, 50 * k)
            while True:
                take = _fit(by_rarity, df, take, budget)
                rows = self._score(session, where, params, idf, by_rarity[:take], avgdl, k)
                rest = by_rarity[take:]
                if not rest or (len(rows) >= k and rows[-1][1] >= sum(idf[t] for t in rest)):
                    break
                budget *= 4
        return np.asarray([r[1] for r in rows], np.float32), np.asarray([r[0] for r in rows], np.int64)

    def _score(
        self,
        session: Any,
        where: str,
        params: dict[str, Any],
        idf: dict[str, float],
        match: list[str],
        avgdl: float,
        k: int,
    ) -> list[Any]:
        """Top-k BM25 over every query term, among the rows that hold one of the ``match`` terms."""
        terms = sorted(idf)
        return list(
            session.execute(
                text(
                    "SELECT c.key, sum(q.idf * u.tf"
                    f" / (u.tf + {_K1} * (1 - {_B} + {_B} * c.n_terms / :avgdl)))"
                    f" AS score FROM {TABLE} c"
                    " CROSS JOIN LATERAL"
                    " (SELECT lexeme, array_length(positions, 1) AS tf FROM unnest(c.terms)) u"
                    " JOIN unnest(CAST(:terms AS text[]), CAST(:idfs AS float8[])) AS q(term, idf)"
                    " ON q.term = u.lexeme"
                    f" WHERE {where.replace('kb_id', 'c.kb_id', 1)} AND c.terms @@ CAST(:tsq AS tsquery)"
                    " GROUP BY c.key ORDER BY score DESC, c.key LIMIT :k"
                ),
                params
                | {
                    "avgdl": avgdl,
                    "terms": terms,
                    "idfs": [idf[t] for t in terms],
                    "tsq": " | ".join(_quote(t) for t in sorted(match)),
                    "k": k,
                },
            ).all()
        )


class PgWriter:
    """Writes search rows in the very SQL transaction that writes the chunk rows."""

    def __init__(self, backend: PostgresBackend, kb: BaseRef) -> None:
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
        self.backend.register(session)
        self.backend.ensure_base(session, self.kb)
        gone = sorted(self._deletes | set(self._upserts))  # upsert = replace, so triggers count once
        for part in iter_batches(gone, 5000):
            session.execute(
                text(f"DELETE FROM {TABLE} WHERE kb_id = :kb AND key = ANY(:keys)"),
                {"kb": self.kb.id, "keys": list(part)},
            )
        entries = list(self._upserts.values())
        chunk_ids = self._chunk_ids(session, [e.key for e in entries])
        for part in iter_batches(entries, 2000):
            # One statement per batch (unnest of column arrays): the statement-level triggers that
            # count term frequencies then run once per batch, not once per row.
            tokens = [tokenize(e.text) for e in part]
            session.execute(
                text(
                    f"INSERT INTO {TABLE} (kb_id, key, chunk_id, document_id, embedding, terms, n_terms,"
                    " groups, tags, meta)"
                    " SELECT :kb, u.key, u.chunk, u.doc, u.emb, CAST(u.terms AS tsvector), u.n,"
                    " ARRAY(SELECT jsonb_array_elements_text(u.groups)),"
                    " ARRAY(SELECT jsonb_array_elements_text(u.tags)), u.meta"
                    " FROM unnest(CAST(:keys AS bigint[]), CAST(:chunks AS text[]), CAST(:docs AS text[]),"
                    " CAST(:embs AS vector[]), CAST(:terms AS text[]), CAST(:ns AS integer[]),"
                    " CAST(:groups AS jsonb[]), CAST(:tags AS jsonb[]), CAST(:metas AS jsonb[]))"
                    " AS u(key, chunk, doc, emb, terms, n, groups, tags, meta)"
                ),
                {
                    "kb": self.kb.id,
                    "keys": [e.key for e in part],
                    "chunks": [chunk_ids[e.key] for e in part],
                    "docs": [e.document_id for e in part],
                    "embs": [np.asarray(e.vector, np.float32).reshape(-1) for e in part],
                    "terms": [tsvector_literal(t) for t in tokens],
                    "ns": [len(t) for t in tokens],
                    "groups": [json.dumps(sorted(e.groups)) for e in part],
                    "tags": [json.dumps(sorted(e.tags)) for e in part],
                    "metas": [json.dumps(dict(e.metadata)) for e in part],
                },
            )
        for document_id, groups, tags, meta in self._access:
            where = {"g": groups, "t": tags, "kb": self.kb.id, "d": document_id}
            if meta is None:
                sql = f"UPDATE {TABLE} SET groups = :g, tags = :t WHERE kb_id = :kb AND document_id = :d"
            else:
                sql = (
                    f"UPDATE {TABLE} SET groups = :g, tags = :t, meta = CAST(:m AS jsonb)"
                    " WHERE kb_id = :kb AND document_id = :d"
                )
                where["m"] = json.dumps(dict(meta))
            session.execute(text(sql), where)
        self._upserts, self._deletes, self._access = {}, set(), []

    def _chunk_ids(self, session: Any, keys: list[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for part in iter_batches(keys, 5000):
            found.update(
                session.execute(
                    text("SELECT vector_id, id FROM chunks WHERE kb_id = :kb AND vector_id = ANY(:keys)"),
                    {"kb": self.kb.id, "keys": list(part)},
                ).all()
            )
        missing = [k for k in keys if k not in found]
        if missing:
            raise ValueError(
                f"{len(missing)} search rows have no chunk row in this transaction (e.g. {missing[0]})"
            )
        return found

    def committed(self) -> None:
        """Nothing left to do: the rows committed with the chunk rows."""


class PostgresBackend:
    """pgvector + BM25 over tsvector in the SQL database (which must be PostgreSQL with pgvector)."""

    name = "postgres"

    def __init__(self, settings: Settings, db: Database) -> None:
        if db.engine.dialect.name != "postgresql":
            raise ConfigError(
                "the postgres backend keeps search data in the SQL database, which is "
                f"{db.engine.dialect.name}; set KB_DATABASE_URL to a PostgreSQL URL with pgvector "
                '(eval "$(scripts/dev_services.sh start)" starts one) or use --backend faiss'
            )
        self.settings = settings
        self.db = db
        self._registered: weakref.WeakSet[Any] = weakref.WeakSet()
        self._bases: set[tuple[int, int]] = set()
        with db.session() as session:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
            session.execute(text(_DDL))

    @contextmanager
    def session(self) -> Iterator[Any]:
        with self.db.session() as session:
            self.register(session)
            yield session

    def register(self, session: Any) -> None:
        """Teach this connection the vector type (binary numpy arrays in and out)."""
        raw = session.connection().connection.driver_connection
        if raw not in self._registered:
            from pgvector.psycopg import register_vector

            register_vector(raw)
            self._registered.add(raw)

    def ensure_base(self, session: Any, kb: BaseRef) -> None:
        """The base's partial HNSW index over vectors of its own dimension (idempotent)."""
        if (kb.id, kb.dim) in self._bases or not kb.dim:
            return
        session.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {_hnsw_name(kb.id)} ON {TABLE} USING hnsw "
                f"((embedding::vector({int(kb.dim)})) vector_cosine_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) WHERE {_base_rows(kb)}"
            )
        )
        self._bases.add((kb.id, kb.dim))

    @contextmanager
    def bulk_load(self, kb: BaseRef, memory: str = "2GB", workers: int = 2) -> Iterator[None]:
        """Write a large load without the base's HNSW index, then build the index once.

        Each row inserted into a live HNSW graph costs a graph search; one build afterwards, with the
        graph in ``maintenance_work_mem`` and parallel workers, is many times faster (benchmarks,
        re-indexing a big base). Searches meanwhile scan exactly (slow, never wrong); if the process
        dies mid-way, the next writer in a fresh process recreates the index (ensure_base).
        """
        with self.session() as session:
            session.execute(text(f"DROP INDEX IF EXISTS {_hnsw_name(kb.id)}"))
        self._bases.add((kb.id, kb.dim))  # so the writer's ensure_base does not rebuild it per batch
        try:
            yield
        finally:
            self._bases.discard((kb.id, kb.dim))
        with self.session() as session:
            session.execute(text("SELECT set_config('maintenance_work_mem', :m, true)"), {"m": memory})
            session.execute(
                text("SELECT set_config('max_parallel_maintenance_workers', :w, true)"), {"w": str(workers)}
            )
            self.ensure_base(session, kb)

    def vectors(self, kb: BaseRef) -> PgVectorStore:
        return PgVectorStore(self, kb)

    def keywords(self, kb: BaseRef) -> PgKeywordStore:
        return PgKeywordStore(self, kb)

    def lock(self, kb_id: int, timeout: float = 600) -> AdvisoryWriterLock:
        return AdvisoryWriterLock(self.db.engine, kb_id, timeout, self.name)

    @contextmanager
    def writer(self, kb: BaseRef) -> Iterator[PgWriter]:
        with self.lock(kb.id):  # transactions alone would interleave two writers' batches
            yield PgWriter(self, kb)

    def create_base(self, kb: BaseRef) -> None:
        with self.session() as session:
            self.ensure_base(session, kb)

    def drop_base(self, kb_id: int) -> None:
        with self.db.session() as session:
            session.execute(text(f"DELETE FROM {TABLE} WHERE kb_id = :kb"), {"kb": kb_id})
            session.execute(text("DELETE FROM kb_search_terms WHERE kb_id = :kb"), {"kb": kb_id})
            session.execute(text("DELETE FROM kb_search_stats WHERE kb_id = :kb"), {"kb": kb_id})
            session.execute(text(f"DROP INDEX IF EXISTS {_hnsw_name(kb_id)}"))
        self._bases = {b for b in self._bases if b[0] != kb_id}

    def keys(self, kb: BaseRef) -> np.ndarray:
        with self.db.session() as session:
            rows = session.scalars(text(f"SELECT key FROM {TABLE} WHERE kb_id = :kb"), {"kb": kb.id}).all()
        return np.asarray(rows, np.int64)

    def export(self, kb: BaseRef, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        last = -(2**63)
        while True:
            with self.session() as session:
                rows = session.execute(
                    text(
                        f"SELECT key, embedding FROM {TABLE}"
                        " WHERE kb_id = :kb AND key > :last ORDER BY key LIMIT :n"
                    ),
                    {"kb": kb.id, "last": last, "n": batch},
                ).all()
            if not rows:
                return
            last = rows[-1][0]
            yield (
                np.asarray([r[0] for r in rows], np.int64),
                np.vstack([r[1].to_numpy() for r in rows]).astype(np.float32),
            )
