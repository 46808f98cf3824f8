"""Request and response bodies of the API (docs/api.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["admin", "agent", "employee"]
Scenario = Literal["employee", "customer_service", "finance", "retail"]
Backend = Literal["faiss", "postgres", "milvus"]
EmbedderName = Literal["minilm", "minilm-int8", "multilingual", "embeddinggemma", "e5-small"]
Name = Field(min_length=1, max_length=64)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    id: str
    username: str
    role: str
    groups: list[str]
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: Any) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            groups=list(user.groups),
            disabled=user.disabled,
            created_at=user.created_at,
        )


class LoginOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


class NewTokenOut(BaseModel):
    id: str
    name: str
    token: str
    expires_at: datetime | None


class UserIn(Strict):
    username: str = Name
    password: str = Field(min_length=1, max_length=1024)
    role: Role = "employee"
    groups: list[str] = Field(default_factory=list, max_length=100)


class UserPatch(Strict):
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    groups: list[str] | None = Field(default=None, max_length=100)


class GroupIn(Strict):
    name: str = Name


class GroupOut(BaseModel):
    name: str
    members: list[str]


class KbIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    scenario: Scenario = "employee"
    description: str = Field(default="", max_length=4000)
    read_groups: list[str] = Field(default_factory=list, max_length=100)
    ocr: bool = True  # recognise text in scanned pages and images while ingesting
    backend: Backend | None = Field(
        default=None, description="Search backend; default: the server's KB_BACKEND."
    )
    embedder: EmbedderName | None = Field(
        default=None,
        description="Embedding model: minilm (English), minilm-int8, multilingual (Chinese, English "
        "and across them), e5-small; default: the server's KB_EMBEDDER.",
    )


class KbMigrateIn(Strict):
    to: Backend = Field(description="The backend to re-index the base into.")


class KbReembedIn(Strict):
    embedder: EmbedderName = Field(description="The embedding model to re-embed the base with.")


class KbPatch(Strict):
    scenario: Scenario | None = None
    description: str | None = Field(default=None, max_length=4000)
    read_groups: list[str] | None = Field(default=None, max_length=100)
    ocr: bool | None = None


class KbOut(BaseModel):
    name: str
    scenario: str
    description: str
    read_groups: list[str]
    ocr: bool
    backend: str
    embedder: str = Field(description="Embedding model of its vectors (registry name or model name).")
    dim: int = Field(description="Dimension of its vectors (0 until the first document is indexed).")
    dense_prior: float | None = Field(
        description="Dense share of the fusion prior calibrated on its own questions (None: the default)."
    )
    documents: int
    chunks: int
    created_at: str


class DocumentOut(BaseModel):
    id: str
    kb: str
    title: str
    source: str
    format: str
    status: str
    error: str | None
    chunk_count: int
    page_count: int | None
    access_groups: list[str]
    tags: list[str]
    size_bytes: int
    updated_at: datetime
    facts: dict[str, Any] = Field(default_factory=dict)


class DocumentPatch(Strict):
    access_groups: list[str] = Field(max_length=100)


class DocumentFactsOut(BaseModel):
    """A document's facts and where each was read from (xbrl, cover, text, filename, record, admin)."""

    id: str
    kb: str
    facts: dict[str, Any]
    sources: dict[str, str]


class DocumentFactsPatch(Strict):
    """Facts to set; a field given as null removes that fact; fields left out are unchanged."""

    company: str | None = Field(default=None, max_length=256)
    tickers: list[str] | None = Field(default=None, max_length=20)
    aliases: list[str] | None = Field(default=None, max_length=20)
    form: str | None = Field(default=None, max_length=64)
    fiscal_year: int | None = Field(default=None, ge=1900, le=2200)
    fiscal_period: Literal["Q1", "Q2", "Q3", "Q4", "H1", "H2", "FY"] | None = None
    period_end: str | None = Field(default=None, max_length=10, description="YYYY-MM-DD")
    product_id: str | None = Field(default=None, max_length=256)
    product_name: str | None = Field(default=None, max_length=256)
    brand: str | None = Field(default=None, max_length=256)
    category: str | None = Field(default=None, max_length=256)


class UploadOut(BaseModel):
    job_id: str
    files: list[dict[str, Any]]


class JobOut(BaseModel):
    id: str
    kb: str
    kind: str = "ingest"  # ingest | delete_document | migrate_base
    status: str  # queued | running | succeeded | partial | failed | dead | cancelled
    total_files: int
    processed_files: int
    added: int
    updated: int
    unchanged: int
    deleted: int
    failed: int
    chunks: int
    results: list[dict[str, Any]]
    current: dict[str, Any] | None = None  # the step inside the current file, e.g. OCR page 3 of 40
    error: str | None
    attempts: int = 0
    worker: str | None = None  # host-pid of the worker that ran (or runs) the last attempt
    heartbeat_at: datetime | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SearchIn(Strict):
    query: str = Field(min_length=1, max_length=4000)
    kbs: list[str] = Field(min_length=1, max_length=20)
    k: int = Field(default=5, ge=1, le=50)
    tags: list[str] | None = Field(default=None, max_length=50)
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)
    rerank: bool = True


class HitOut(BaseModel):
    chunk_id: str
    document_id: str
    kb: str
    title: str
    source: str
    page: int | None
    section: str | None
    text: str
    score: float
    dense_score: float | None
    sparse_score: float | None
    rerank_score: float | None
    ocr_confidence: float | None = None  # the text was recognised from an image (OCR)


class SearchOut(BaseModel):
    hits: list[HitOut]


class ChatIn(Strict):
    question: str = Field(min_length=1, max_length=8000)
    kbs: list[str] = Field(default_factory=list, max_length=20)
    scenario: Scenario | None = None
    tone: Literal["friendly", "formal", "concise"] = "friendly"
    mode: Literal["answer", "draft_reply"] = "answer"
    conversation_id: str | None = Field(default=None, max_length=64)
    stream: bool = False


class CitationOut(BaseModel):
    n: int
    document_id: str
    kb: str = ""
    source: str
    title: str
    page: int | None
    section: str | None
    snippet: str
    char_start: int
    char_end: int
    ocr_confidence: float | None = None  # the cited text was recognised from an image (OCR)
    page_end: int | None = None  # the cited passage runs from ``page`` to this page


class ChatOut(BaseModel):
    conversation_id: str | None
    message_id: str | None
    question: str
    answer: str = Field(description="Only checked text: a draft never contains the internal notice.")
    abstained: bool
    kind: Literal["generated", "quoted", "computed", "table", "abstained"] = Field(
        description="generated: the model's checked sentences; quoted: a passage's sentences verbatim; "
        "computed: a calculation over cited table cells (result, formula, inputs); table: the cells of "
        "the table rows the question names, in the period it names, read as the table states them; "
        "abstained: not covered (for a customer draft, a holding reply)."
    )
    notice: str = Field(description="For the agent only, shown beside a draft, never inside it.")
    citations: list[CitationOut]
    unsupported_sentences: list[str] = Field(description="The model's sentences left out, unsupported.")
    closest_sources: list[CitationOut] = Field(
        description="On abstention: the nearest passages, one per document and page, with a snippet."
    )
    timings: dict[str, float | None]


class FeedbackIn(Strict):
    message_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=4000)


class IdOut(BaseModel):
    id: str


class HealthOut(BaseModel):
    status: str
    version: str
