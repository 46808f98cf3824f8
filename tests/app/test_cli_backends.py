"""Per search backend, through the real `kb` command: create, ingest, search, ask, migrate, delete.

faiss on SQLite; postgres on the throw-away PostgreSQL (pgvector); milvus through the throw-away
Milvus server with SQL on SQLite. The real embedder and the bundled tiny LLM answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import milvus_server_uri, postgres_url

pytestmark = pytest.mark.slow

NEXT = {"faiss": "postgres", "postgres": "milvus", "milvus": "faiss"}


@pytest.fixture(
    params=[
        pytest.param("faiss", marks=[pytest.mark.postgres, pytest.mark.milvus]),
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.milvus]),
        pytest.param("milvus", marks=[pytest.mark.postgres, pytest.mark.milvus]),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_base_lifecycle_on_each_backend(tmp_path: Path, backend: str) -> None:
    # Migration from every backend needs every engine: SQL on PostgreSQL, Milvus through its server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        KB_DATA_DIR=str(tmp_path / "data"),
        KB_DATABASE_URL=postgres_url(),
        KB_MILVUS_URI=milvus_server_uri(),
        KB_MILVUS_PREFIX=f"cli{tmp_path.name[-10:].replace('-', '_')}",
        KB_RERANKER="none",
        KB_LLM_PROFILE="tiny",
        KB_ANSWER_MAX_TOKENS="32",
    )

    def kb(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.md").write_text(
        "# Returns\n\nUnopened items can be returned within 30 days for a refund.\n"
    )
    (docs / "board.md").write_text(
        "# Board\n\nProject Nightingale will be acquired for 42 million dollars.\n"
    )

    created = json.loads(kb("bases", "create", "shop", "--backend", backend, "--json"))
    assert created["backend"] == backend
    kb("ingest", str(docs / "returns.md"), "--kb", "shop", "--json")
    kb("ingest", str(docs / "board.md"), "--kb", "shop", "--group", "execs", "--json")
    assert json.loads(kb("bases", "list", "--json"))[0]["backend"] == backend

    hits = json.loads(
        kb("search", "send back an unopened item", "--kb", "shop", "--group", "staff", "--json")
    )
    assert hits[0]["source"] == "returns.md"
    assert all("Nightingale" not in h["text"] for h in hits)
    hidden = json.loads(kb("search", "Nightingale acquisition", "--kb", "shop", "--group", "staff", "--json"))
    assert all(h["source"] != "board.md" for h in hidden)

    answer = json.loads(kb("ask", "How long can unopened items be returned?", "--kb", "shop", "--json"))
    sources = [c["source"] for c in answer["citations"]] + [
        s["source"] for s in answer.get("closest_sources", [])
    ]
    assert "returns.md" in sources

    target = NEXT[backend]
    moved = json.loads(kb("bases", "migrate", "shop", "--to", target, "--json"))
    assert moved == {"name": "shop", "from": backend, "to": target, "chunks": 2}
    assert json.loads(kb("bases", "check", "shop", "--json"))["problems"] == []
    hits = json.loads(kb("search", "Nightingale acquisition", "--kb", "shop", "--group", "execs", "--json"))
    assert hits[0]["source"] == "board.md"

    kb("bases", "delete", "shop", "--yes")
    assert json.loads(kb("bases", "list", "--json")) == []
