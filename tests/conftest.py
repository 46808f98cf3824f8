"""Shared fixtures: dataset location, settings on a temp data dir, SQLite and PostgreSQL databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.db import Database
from core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {DATASETS}")
    return DATASETS


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def postgres_url() -> str:
    """The throw-away PostgreSQL (with pgvector) of scripts/test.sh, emptied; skips without one."""
    url = os.environ.get("KB_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("KB_TEST_POSTGRES_URL not set (scripts/test.sh starts a throw-away PostgreSQL)")
    _reset_postgres(url)
    return url


def milvus_server_uri() -> str:
    """The throw-away Milvus server (milvus-lite's gRPC server) of scripts/test.sh; skips without one."""
    uri = os.environ.get("KB_TEST_MILVUS_URI")
    if not uri:
        pytest.skip("KB_TEST_MILVUS_URI not set (scripts/test.sh starts a throw-away Milvus server)")
    return uri


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], ids=["sqlite", "postgres"]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that uses this runs twice: SQLite with the embedded ``faiss`` backend, and the real
    PostgreSQL with the ``postgres`` backend (pgvector + BM25 in the same database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    return postgres_url()


@pytest.fixture
def search_backend(database_url: str) -> str:
    """The search backend new bases get in a test: the one that goes with its database."""
    return "postgres" if database_url.startswith("postgresql") else "faiss"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, search_backend: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        commit_every_chunks=2000,
        backend=search_backend,  # type: ignore[arg-type]
    )


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'kb.sqlite3'}")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.sqlalchemy_url)
    database.upgrade()
    yield database
    database.dispose()
