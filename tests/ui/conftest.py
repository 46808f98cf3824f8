"""A live API (uvicorn in a thread, real SQLite, fast fakes) for the UI tests, which talk to it
over HTTP exactly as the deployed UI does."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.accounts import Accounts
from app.api.main import create_app
from app.context import AppContext
from ingest.embedder import HashingEmbedder
from tests.api.conftest import PASSWORD, api_settings

POLICY = (
    b"# PerksPlus\n\nPerksPlus reimburses fitness expenses such as gym memberships and yoga classes, "
    b"up to $1000 per year.\n\n## Not covered\n\nMedical treatments are not covered by PerksPlus.\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveApi:
    url: str
    data_dir: Path

    def token(self, username: str) -> str:
        response = httpx.post(f"{self.url}/auth/login", json={"username": username, "password": PASSWORD})
        return str(response.json()["access_token"])

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


@pytest.fixture(scope="session")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    tmp = tmp_path_factory.mktemp("live-api")
    settings = api_settings(tmp / "data", f"sqlite:///{tmp / 'kb.sqlite3'}")
    settings.answer_min_evidence = (
        0.05  # unrelated questions (no shared words) abstain with the fake embedder
    )
    ctx = AppContext(settings)
    ctx.__dict__["embedder"] = HashingEmbedder()
    accounts = Accounts(ctx.db)
    accounts.create_group("staff")
    accounts.create_user("admin", PASSWORD, "admin")
    accounts.create_user("agent", PASSWORD, "agent", ["staff"])
    accounts.create_user("employee", PASSWORD, "employee", ["staff"])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, ctx), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "API did not start"
        time.sleep(0.05)
    live = LiveApi(url, settings.data_dir)
    admin = live.headers("admin")
    httpx.post(
        f"{url}/kbs",
        headers=admin,
        json={"name": "benefits", "scenario": "customer_service", "read_groups": ["staff"]},
    )
    job = httpx.post(
        f"{url}/kbs/benefits/documents", headers=admin, files=[("files", ("perksplus.md", POLICY))]
    ).json()
    while httpx.get(f"{url}/jobs/{job['job_id']}", headers=admin).json()["status"] in ("queued", "running"):
        time.sleep(0.1)
    yield live
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def ui_env(live_api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> LiveApi:
    monkeypatch.setenv("KB_API_URL", live_api.url)
    return live_api
