"""Schema: Alembic migrations create exactly the models' tables on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.db import Base, Database
from core.settings import Settings


def test_migrations_match_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(db: Database) -> None:
    db.upgrade()
    db.upgrade()


def test_settings_defaults(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path)
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    assert settings.index_dir == tmp_path / "indexes"
    assert Settings(data_dir=tmp_path, database_url="postgresql+psycopg://x@h/db").sqlalchemy_url.startswith(
        "postgresql"
    )


def test_settings_file_and_environment(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from core.errors import ConfigError
    from core.settings import load_settings

    env_file = tmp_path / "kb.env"
    env_file.write_text(f"KB_DATA_DIR={tmp_path / 'from-file'}\nKB_RERANKER=none\n")
    monkeypatch.setenv("KB_SETTINGS_FILE", str(env_file))
    monkeypatch.setenv("KB_RERANKER", "mpnet")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "from-file" and settings.reranker == "mpnet"  # env wins
    monkeypatch.setenv("KB_SETTINGS_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_down_and_up_migrations_keep_documents_and_chunks(db: Database) -> None:
    """SQLite rebuilds a table to alter it; with foreign keys on, that once cascaded into deleting
    every document and chunk of an existing install on upgrade."""
    from alembic import command
    from sqlalchemy import func, select

    from core.db import ChunkRow, DocumentRow, KnowledgeBase
    from core.migrate import alembic_config

    with db.session() as session:
        kb = KnowledgeBase(name="kept")
        session.add(kb)
        session.flush()
        session.add(DocumentRow(id="d1", kb_id=kb.id, source="a.txt", status="ready"))
        session.flush()
        session.add(ChunkRow(id="c1", document_id="d1", kb_id=kb.id, vector_id=1, position=0, text="x"))

    def counts() -> tuple[int | None, ...]:
        with db.session() as session:
            return tuple(session.scalar(select(func.count()).select_from(t)) for t in (DocumentRow, ChunkRow))

    command.downgrade(alembic_config(db.engine), "0003")
    assert counts() == (1, 1)
    db.upgrade()
    assert counts() == (1, 1)
