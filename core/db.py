"""SQLAlchemy 2 models and session factory. SQLite by default, PostgreSQL with another URL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    true,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, list[str]: JSON}


class KnowledgeBase(Base):
    """A named collection of documents; its search data lives in the backend it records."""

    __tablename__ = "knowledge_bases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    scenario: Mapped[str] = mapped_column(String(32), default="employee")
    description: Mapped[str] = mapped_column(Text, default="")
    # The embedding model its vectors come from (core/embedders.py): registry name ("" for bases made
    # before the registry or with a custom local model), model, dimension, normalisation, prompts.
    embedder: Mapped[str] = mapped_column(String(64), default="", server_default="")
    embedding_model: Mapped[str] = mapped_column(String(512), default="")
    dim: Mapped[int] = mapped_column(Integer, default=0)
    embed_normalize: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    query_prompt: Mapped[str] = mapped_column(String(256), default="", server_default="")
    document_prompt: Mapped[str] = mapped_column(String(256), default="", server_default="")
    # Dense share of the fusion prior calibrated on the base's judged questions (None: settings').
    dense_prior: Mapped[float | None] = mapped_column(Float, default=None)
    # Search backend holding its vectors and keywords: faiss | postgres | milvus (core.stores).
    backend: Mapped[str] = mapped_column(String(16), default="faiss", server_default="faiss")
    # Which index version is live (faiss files); bumped in the same transaction as the chunk rows.
    index_version: Mapped[int] = mapped_column(Integer, default=0)
    # "writing" while a backend outside the SQL transaction (milvus) may hold rows SQL does not.
    store_state: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # Groups whose members may read this base; EVERYONE = every signed-in user; empty = admins only.
    read_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Recognise text in scanned pages and images while ingesting (slow on CPU; admins may turn it off).
    ocr_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    documents: Mapped[list[DocumentRow]] = relationship(
        back_populates="kb", cascade="all, delete-orphan", passive_deletes=True
    )


class DocumentRow(Base):
    """One source (file, or record of a corpus.jsonl) in a knowledge base; id is stable across versions."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("kb_id", "source", name="uq_documents_kb_source"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(1024))
    path: Mapped[str] = mapped_column(String(2048), default="")
    title: Mapped[str] = mapped_column(String(1024), default="")
    external_id: Mapped[str | None] = mapped_column(String(256), default=None, index=True)
    format: Mapped[str] = mapped_column(String(16), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | ready | failed
    error: Mapped[str | None] = mapped_column(Text, default=None)
    access_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    scenario_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    page_count: Mapped[int | None] = mapped_column(Integer, default=None)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    kb: Mapped[KnowledgeBase] = relationship(back_populates="documents")
    chunks: Mapped[list[ChunkRow]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )


class ChunkRow(Base):
    """A chunk's text and citation data; its base's search backend keys it by ``vector_id``."""

    __tablename__ = "chunks"
    __table_args__ = (Index("ix_chunks_kb_vector", "kb_id", "vector_id", unique=True),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"))
    vector_id: Mapped[int] = mapped_column(BigInteger)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="paragraph")
    page: Mapped[int | None] = mapped_column(Integer, default=None)
    page_end: Mapped[int | None] = mapped_column(Integer, default=None)
    heading_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    char_start: Mapped[int] = mapped_column(Integer, default=0)
    char_end: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the chunk's text was recognised from an image (OCR): the lowest block confidence, 0-1.
    ocr_confidence: Mapped[float | None] = mapped_column(Float, default=None)
    # A table chunk's cells (core.tables.TableCells.to_json): row label, column header, text; scale.
    table_cells: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    document: Mapped[DocumentRow] = relationship(back_populates="chunks")


class RerankVector(Base):
    """A chunk's embedding by the rescoring model (e.g. all-mpnet-base-v2), used by the reranker.

    Keyed by chunk id and deleted with its chunk, so it can never outlive or mismatch the text.
    """

    __tablename__ = "rerank_vectors"

    chunk_id: Mapped[str] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class IngestionJob(Base):
    """One ingestion run: status, progress counters and per-file outcomes."""

    __tablename__ = "ingestion_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    # ingest | delete_document | migrate_base (core.jobqueue.JobKind)
    kind: Mapped[str] = mapped_column(String(24), default="ingest", server_default="ingest")
    # queued | running | succeeded | partial | failed | dead (gave up after max attempts) | cancelled
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    total_files: Mapped[int] = mapped_column(Integer, default=0)
    processed_files: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    results: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # What the job is doing inside the current file, e.g. OCR page 3 of 40 (None between files).
    current: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    pid: Mapped[int | None] = mapped_column(Integer, default=None)
    # What to ingest, so a background runner can (re)start the job: paths, groups, tags, sync.
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Starts so far; the running attempt's number is its fencing token (a write from an older
    # attempt, whose worker was presumed dead, finds a different number and is refused).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_by: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class LoginFailure(Base):
    """One failed sign-in, shared by every API replica so the login throttle counts them all."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(128), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class User(Base):
    """A person or service account. ``role``: admin | agent | employee."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="employee")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @property
    def groups(self) -> list[str]:
        return sorted(m.group_name for m in self.memberships)


class Group(Base):
    """An access group: knowledge bases and documents name the groups that may read them."""

    __tablename__ = "groups"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    group_name: Mapped[str] = mapped_column(
        ForeignKey("groups.name", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiToken(Base):
    """A bearer token, stored as its sha256 only. ``kind``: session (from login) | api (for machines)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="session")
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Conversation(Base):
    """A user's chat thread over one or more knowledge bases."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(256), default="")
    kbs: Mapped[list[str]] = mapped_column(JSON, default=list)
    scenario: Mapped[str] = mapped_column(String(32), default="employee")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(Base):
    """One turn. Assistant turns keep the checked answer (citations, abstention) in ``answer``."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    rating: Mapped[str] = mapped_column(String(8))  # up | down
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEvent(Base):
    """Security-relevant event: logins, permission changes, uploads, deletions, denied access."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(64), default=None)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(256), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok | denied | failed
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def touch_documents(session: Any, doc_ids: list[str]) -> None:
    """Move the documents' ``updated_at``: caches keyed on it (search filter fields) reload."""
    if doc_ids:
        session.execute(update(DocumentRow).where(DocumentRow.id.in_(doc_ids)).values(updated_at=utcnow()))


def make_engine(url: str) -> Engine:
    """Engine with SQLite pragmas (WAL, foreign keys) when the URL is SQLite."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """Engine plus session factory; ``with db.session() as s:`` commits on success, rolls back on error."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Any]:
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from core.migrate import upgrade_to_head

        upgrade_to_head(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
