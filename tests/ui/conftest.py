"""UI test fixtures: the real API served by uvicorn on a free 127.0.0.1 port (in a background
thread), on a temporary SQLite database with the fast fakes (hashing embedder, echo generator), plus
signed-in users and one ingested knowledge base. The UI reaches it over HTTP via ``KB_API_URL``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.api.main import create_app
from app.context import AppContext
from app.services.accounts import Accounts
from app.ui.client import ApiClient
from app.ui.session import TOKEN
from core.settings import Settings
from ingest.embedder import HashingEmbedder
from tests.servers import free_port, serve_in_thread

UI_MAIN = Path(__file__).resolve().parents[2] / "app" / "ui" / "main.py"
PASSWORD = "ui test password"
KB = "handbook"
# role, groups
USERS = {
    "admin": ("admin", ["staff"]),
    "agent": ("agent", ["staff", "support"]),
    "employee": ("employee", ["staff"]),
}
PERKS = b"""# PerksPlus fitness program

## Coverage

PerksPlus reimburses gym memberships, yoga classes and fitness equipment up to $1000 per year.
Medical treatments and travel are not covered.

## How to claim

Submit your receipts in the benefits portal within 30 days of the purchase.
"""
PERKS_QUESTION = "What does PerksPlus reimburse?"
PERKS_ANSWER_PART = "PerksPlus reimburses gym memberships"


@dataclass
class LiveApi:
    url: str
    ctx: AppContext
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str) -> str:
        """A session token for ``username`` (one login per user for the whole run)."""
        if username not in self.tokens:
            self.tokens[username] = ApiClient(self.url).login(username, PASSWORD)["access_token"]
        return self.tokens[username]

    def client(self, username: str) -> ApiClient:
        return ApiClient(self.url, self.token(username))

    def wait_for_job(self, job_id: str, timeout: float = 60) -> dict:
        admin = self.client("admin")
        deadline = time.monotonic() + timeout
        while (job := admin.job(job_id))["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, f"job {job_id} did not finish: {job}"
            time.sleep(0.1)
        return job


@pytest.fixture(scope="session")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    data = tmp_path_factory.mktemp("ui-api") / "data"
    # The hashing embedder's cosines are low; evidence gating is tested with real models elsewhere.
    settings = Settings(data_dir=data, llm_backend="echo", reranker="none", answer_min_evidence=0.0)
    ctx = AppContext(settings)
    ctx.use_embedder(HashingEmbedder())
    app = create_app(settings, context=ctx)
    accounts = Accounts(ctx.db)
    for group in sorted({g for _, groups in USERS.values() for g in groups}):
        accounts.create_group(group)
    for username, (role, groups) in USERS.items():
        accounts.create_user(username, PASSWORD, role, groups=groups)

    port = free_port()
    server, thread = serve_in_thread(app, port)
    api = LiveApi(f"http://127.0.0.1:{port}", ctx)
    try:
        admin = api.client("admin")
        admin.create_kb(KB, "customer_service", "Benefits and perks policies", ["everyone"])
        job = api.wait_for_job(admin.upload(KB, [("perksplus.md", PERKS)])["job_id"])
        assert job["status"] == "succeeded", job
        yield api
    finally:
        server.should_exit = True
        thread.join(15)
        ctx.db.dispose()


@pytest.fixture
def ui_env(live_api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> LiveApi:
    """The UI (run in-process by AppTest) talks to the live API."""
    monkeypatch.setenv("KB_API_URL", live_api.url)
    return live_api


def app_as(api: LiveApi | None, username: str | None = None, page: str | None = None) -> AppTest:
    """The UI's entry point run once, signed in as ``username`` (by token) and switched to ``page``."""
    at = AppTest.from_file(str(UI_MAIN), default_timeout=30)
    if api is not None and username:
        at.session_state[TOKEN] = api.token(username)
    at.run()
    if page:
        at.switch_page(page).run()
    return at
