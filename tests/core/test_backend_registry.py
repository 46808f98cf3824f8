"""Backend choice: names are validated, a missing extra fails at start-up naming it, engines are checked."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from app.context import AppContext
from core.errors import ConfigError
from core.settings import Settings
from core.stores.registry import require_installed, validate_backend


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="faiss, postgres, milvus"):
        validate_backend("elastic")


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "pymilvus" else real(name))
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[milvus\]'"):
        require_installed("milvus")
    require_installed("faiss")


def test_start_up_fails_when_the_default_backend_cannot_work(tmp_path: Path) -> None:
    # postgres keeps search data in the SQL database: on SQLite that cannot work, and says why.
    ctx = AppContext(Settings(data_dir=tmp_path, backend="postgres"))
    with pytest.raises(ConfigError, match="KB_DATABASE_URL"):
        ctx.check_backends()
    AppContext(Settings(data_dir=tmp_path, backend="faiss")).check_backends()
