"""Backend names, the extra each needs, and one instance of each per process (built on first use)."""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

from core.db import Database
from core.errors import ConfigError
from core.settings import Settings
from core.stores.base import SearchBackend

BACKENDS = ("faiss", "postgres", "milvus")
# backend → (modules it imports, the pip extra that installs them)
_REQUIREMENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "faiss": (("faiss", "bm25s"), "cpu (or gpu)"),
    "postgres": (("psycopg", "pgvector"), "postgres"),
    "milvus": (("pymilvus",), "milvus"),
}


def validate_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown search backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


def require_installed(name: str) -> None:
    """Fail with the extra to install when a backend's packages are missing."""
    modules, extra = _REQUIREMENTS[validate_backend(name)]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"the {name} search backend needs {', '.join(missing)}: install it with "
            f"pip install -e '.[{extra}]' (or choose another backend)"
        )


class SearchBackends:
    """The backends of one process, keyed by name; each is created once, when first needed."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._built: dict[str, SearchBackend] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> SearchBackend:
        backend = self._built.get(name)
        if backend is not None:
            return backend
        with self._lock:
            if name not in self._built:
                self._built[name] = self._build(name)
            return self._built[name]

    def _build(self, name: str) -> Any:
        require_installed(name)
        if name == "faiss":
            from core.stores.faiss.backend import FaissBackend

            return FaissBackend(self.settings, self.db)
        if name == "postgres":
            from core.stores.postgres import PostgresBackend

            return PostgresBackend(self.settings, self.db)
        from core.stores.milvus import MilvusBackend

        return MilvusBackend(self.settings, self.db)

    def check(self, names: set[str]) -> None:
        """Start-up check: every backend the bases (and the default) use is installed and reachable."""
        for name in sorted(names):
            self.get(name)
