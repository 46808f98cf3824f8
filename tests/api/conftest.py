"""API test fixtures: the real app over a real database (SQLite and PostgreSQL), with the fast
fakes (hashing embedder, echo generator) so a request costs milliseconds. The real-model path is
covered by test_real_server.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.api.services import Services
from app.context import AppContext
from core.settings import Settings
from ingest.embedder import HashingEmbedder

PASSWORD = "correct horse battery"


@dataclass
class Api:
    client: TestClient
    services: Services

    def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.client.post("/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def user(self, username: str, role: str = "employee", groups: list[str] | None = None) -> dict[str, str]:
        """Create a user (groups are created as needed) and return their auth headers."""
        accounts = self.services.accounts
        known = {g["name"] for g in accounts.list_groups()}
        for group in groups or []:
            if group not in known:
                accounts.create_group(group)
        accounts.create_user(username, PASSWORD, role, groups or [])
        return self.login(username)

    def run_jobs(self) -> None:
        while self.services.jobs.run_next():
            pass

    def upload(
        self, headers: dict[str, str], kb: str, files: dict[str, bytes], groups: list[str] | None = None
    ) -> Any:
        response = self.client.post(
            f"/kbs/{kb}/documents",
            headers=headers,
            files=[("files", (name, data)) for name, data in files.items()],
            data={"access_groups": groups or []},
        )
        return response


def api_settings(data_dir: Path, database_url: str) -> Settings:
    # The hashing embedder's cosines are low; evidence gating is tested with real models elsewhere.
    # On PostgreSQL the bases use the postgres search backend (pgvector), on SQLite faiss.
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        backend="postgres" if database_url.startswith("postgresql") else "faiss",
        llm_backend="echo",
        reranker="none",
        answer_min_evidence=0.0,
    )


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[Api]:
    settings = api_settings(tmp_path / "data", database_url)
    ctx = AppContext(settings)
    ctx.use_embedder(HashingEmbedder())
    app = create_app(settings, ctx, run_jobs=False)
    with TestClient(app) as client:
        yield Api(client, app.state.services)
    ctx.db.dispose()
