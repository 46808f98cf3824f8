"""The one typed settings object. Read once at start-up from ``KB_*`` variables and an optional file.

Nothing else in the code base reads ``os.environ``; pass ``Settings`` down explicitly.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "kb-platform"


class Settings(BaseSettings):
    """Platform settings; every field can be set as ``KB_<FIELD>`` or in ``KB_SETTINGS_FILE`` (.env).

    Example: ``KB_DATA_DIR=/srv/kb KB_DATABASE_URL=postgresql+psycopg://u:p@db/kb kb bases list``
    """

    model_config = SettingsConfigDict(env_prefix="KB_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="All on-disk state lives here.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file inside data_dir."
    )
    environment: Literal["development", "production"] = "development"

    # Embedding
    embedder: str = Field(
        default="minilm",
        description="Registry embedder (core/embedders.py): minilm | minilm-int8 | multilingual | "
        "embeddinggemma | e5-small.",
    )
    embedding_model: str | None = Field(
        default=None,
        description="Local dir of a sentence-transformers model; overrides `embedder` when set.",
    )
    model_wheels_dir: Path | None = Field(
        default=None,
        description="Downloaded model wheels (scripts/bootstrap.sh); "
        "default: <venv>/share/kb-platform/model-wheels.",
    )
    embedding_batch_size: int = 64
    embedding_device: str | None = Field(default=None, description="cpu / cuda; default: auto.")

    # Chunking
    chunk_max_tokens: int = 254
    chunk_target_tokens: int = 200
    chunk_overlap_tokens: int = 32

    # Search backend of new knowledge bases (each base records its own; see `kb bases migrate`)
    backend: Literal["faiss", "postgres", "milvus"] = Field(
        default="faiss",
        description="faiss (embedded files), postgres (pgvector in the SQL database) or milvus.",
    )
    milvus_uri: str | None = Field(
        default=None,
        description="A file path runs milvus-lite in-process; http://host:19530 a Milvus server. "
        "Default: milvus.db in data_dir.",
    )
    milvus_token: str | None = Field(default=None, description="user:password or API key of a Milvus server.")
    milvus_prefix: str = Field(default="kb", description="Collection names are <prefix>_<base id>.")
    milvus_ef: int = Field(
        default=800,
        description="HNSW search width in Milvus: 800 measured recall@10 0.99 vs 0.78 at 128 on 100k "
        "synthetic chunks half masked, +11 ms p50 on milvus-lite (docs/benchmarks.md, store_latency).",
    )
    pg_ef_search: int = Field(
        default=1000,
        description="pgvector hnsw.ef_search (1-1000): 1000 measured recall@10 0.98 vs 0.85 at 400 on 100k "
        "synthetic chunks half masked (docs/benchmarks.md, store_latency).",
    )
    pg_max_scan_tuples: int = Field(
        default=40_000, description="pgvector iterative scans stop after this many tuples (then exact)."
    )

    # Vector index
    faiss_factory: str = Field(
        default="auto",
        description="FAISS factory string (e.g. Flat, HNSW32, IVF1024,PQ32) or 'auto' (by size).",
    )
    faiss_hnsw_threshold: int = Field(
        default=200_000, description="With 'auto', bases above this many chunks use HNSW32."
    )
    faiss_use_gpu: bool = True

    # Ingestion limits
    max_file_bytes: int = 100 * 1024 * 1024
    max_expanded_bytes: int = 500 * 1024 * 1024
    commit_every_chunks: int = Field(
        default=2000,
        description="Persist SQL + FAISS after this many new chunks (crash granularity).",
    )

    # OCR (scanned pages, images, figures); each knowledge base can also turn it off
    ocr: bool = Field(default=True, description="Recognise text in images; false turns OCR off everywhere.")
    ocr_dpi: int = Field(default=200, ge=72, le=600, description="Resolution scanned pages are read at.")
    ocr_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: CUDA when onnxruntime sees a GPU (onnxruntime-gpu), else CPU."
    )

    # Retrieval
    retrieval_candidates: int = Field(default=50, description="Hits each of dense and BM25 contribute.")
    fusion: Literal["adaptive", "convex", "rrf"] = Field(
        default="adaptive",
        description="adaptive: z-scored lists weighted per query by how clearly each found a best hit "
        "(times the weights below as a prior); convex: fixed weights on max-normalised scores; "
        "rrf: reciprocal rank.",
    )
    rrf_k: int = 60
    dense_weight: float = Field(
        default=0.5,
        description="Dense list's weight (convex, rrf) or prior (adaptive); see kb eval retrieval.",
    )
    sparse_weight: float = Field(default=0.5, description="BM25 list's weight or prior, as dense_weight.")
    dedupe_threshold: float = Field(default=0.9, description="Jaccard of word 3-shingles; 1 disables.")
    mmr: bool = False
    mmr_lambda: float = 0.7
    reranker: str = Field(
        default="auto",
        description="auto (mpnet rescorer on GPU, none on CPU) | mpnet | none | a local cross-encoder dir.",
    )
    rerank_top_n: int = Field(default=20, description="How many fused hits the reranker rescores.")

    # Generation
    llm_backend: Literal["llamacpp", "transformers", "openai", "echo"] = "llamacpp"
    llm_profile: str = Field(
        default="default", description="Bundled GGUF: default (1.5B), fast (0.5B), tiny."
    )
    llm_model_path: str | None = Field(
        default=None, description="Any local .gguf file (llamacpp) or HF model folder (transformers)."
    )
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible server, e.g. vLLM.")
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_ctx: int = 4096
    llm_threads: int | None = None
    answer_k: int = Field(
        default=3,
        description="Passages given to the LLM. 3 keeps the 1.5B model's first token under 8 s on 2 cores "
        "(prefill ~100 tokens/s) and measured better than 5 (docs/benchmarks.md).",
    )
    answer_min_evidence: float | None = Field(
        default=None,
        description="Abstain when the best passage's dense cosine is below this. Default: the base's "
        "embedder's calibrated value (core/embedders.py; MiniLM 0.35).",
    )
    answer_max_tokens: int = 384
    answer_context_tokens: int = Field(
        default=200,
        description="Prompt tokens the passages may take together: each keeps its sentences most "
        "relevant to the question (prompt reading is most of the first-token time on a CPU).",
    )
    answer_support_similarity: float | None = Field(
        default=None,
        description="A sentence is backed by a cited passage when a passage sentence says the same "
        "with this cosine or more; 1.01 disables. Default: the base's embedder's calibrated value "
        "(core/embedders.py; MiniLM 0.7, calibrated on the dev sets, docs/benchmarks.md).",
    )
    answer_quote_similarity: float | None = Field(
        default=None,
        description="A passage sentence this close to the question may be quoted as the answer when "
        "the model's answer cannot be verified. Default: the base's embedder's calibrated value "
        "(core/embedders.py; MiniLM 0.35).",
    )

    # Generation capacity of one API process (searches never wait for it)
    generation_slots: int = Field(
        default=1,
        ge=1,
        description="Answers generated at once: 1 for the local llama.cpp model (it uses every core); "
        "the number of parallel slots of an OpenAI-compatible server (KB_LLM_BACKEND=openai).",
    )
    generation_queue: int = Field(
        default=16, ge=0, description="Questions that may wait for a slot (they see their place in line)."
    )
    generation_wait_seconds: float = Field(
        default=120.0, gt=0, description="A question still in line after this long gets 503 + Retry-After."
    )

    # API service
    api_url: str = Field(default="http://127.0.0.1:8000", description="Where the UI finds the API.")
    session_hours: float = Field(default=12.0, description="Lifetime of a login session token.")
    metrics_public: bool = Field(default=False, description="Serve /metrics without a token.")
    upload_max_files: int = Field(default=50, description="Files per upload request.")
    job_max_attempts: int = Field(
        default=3, description="Times a job is started before it is marked dead (Admin → Jobs can retry it)."
    )

    # Jobs: how they reach workers (docs/distributed.md)
    queue: Literal["inprocess", "procrastinate"] = Field(
        default="inprocess",
        description="inprocess: the API process runs jobs itself (no broker); procrastinate: `kb worker` "
        "processes take them from PostgreSQL (needs a PostgreSQL database_url and the queue extra).",
    )
    job_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A running job whose heartbeat is older than this is presumed dead and re-delivered.",
    )
    worker_concurrency: int = Field(
        default=1, ge=1, description="Jobs one `kb worker` runs at once (threads; one process per GPU)."
    )

    # Uploaded files (a worker on another machine reads them from here)
    blob_backend: Literal["local", "s3"] = Field(
        default="local", description="local: data_dir/uploads; s3: an S3-compatible bucket (the s3 extra)."
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint, e.g. http://ceph-rgw:7480; default: AWS."
    )
    s3_bucket: str | None = Field(default=None, description="Bucket that holds uploaded files.")
    s3_prefix: str = Field(default="uploads/", description="Key prefix inside the bucket.")
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str | None = None
    eval_max_questions: int = Field(default=50, description="Questions per API evaluation run.")

    @model_validator(mode="after")
    def _expand(self) -> Settings:
        self.data_dir = self.data_dir.expanduser()
        if self.queue == "procrastinate" and not (self.database_url or "").startswith("postgresql"):
            raise ConfigError(
                "KB_QUEUE=procrastinate needs KB_DATABASE_URL to point at PostgreSQL (the queue lives "
                "there); use KB_QUEUE=inprocess with SQLite"
            )
        if self.blob_backend == "s3" and not self.s3_bucket:
            raise ConfigError("KB_BLOB_BACKEND=s3 needs KB_S3_BUCKET (and usually KB_S3_ENDPOINT_URL)")
        return self

    @cached_property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'kb.sqlite3'}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"


def load_settings(settings_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``KB_*`` variables and an optional .env-style file (``settings_file``, else the
    file named by ``KB_SETTINGS_FILE``); environment variables win over the file."""
    path = settings_file or os.environ.get("KB_SETTINGS_FILE")
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"settings file {path} does not exist; fix KB_SETTINGS_FILE or create it")
        return Settings(_env_file=path, **overrides)  # type: ignore[call-arg]
    return Settings(**overrides)
