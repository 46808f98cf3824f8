"""Background jobs survive an API restart: a job left running is queued again and finishes, or
is failed with the reason after too many attempts; never left running forever."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from app.api.main import create_app
from app.context import AppContext
from core.db import IngestionJob
from ingest.embedder import HashingEmbedder
from tests.api.conftest import Api, api_settings


def _restart(api: Api, tmp_path: Path, database_url: str) -> Api:
    settings = api_settings(api.services.settings.data_dir, database_url)
    ctx = AppContext(settings)
    ctx.use_embedder(HashingEmbedder())
    app = create_app(settings, ctx, run_jobs=False)
    client = TestClient(app)
    client.__enter__()  # runs the start-up (recovery) like a restarted server
    return Api(client, app.state.services)


def _simulate_crash_mid_job(api: Api, job_id: str, attempts: int) -> None:
    with api.services.ctx.db.session() as session:
        session.execute(
            update(IngestionJob).where(IngestionJob.id == job_id).values(status="running", attempts=attempts)
        )


def test_interrupted_job_is_resumed_after_restart(api: Api, tmp_path: Path, database_url: str) -> None:
    admin = api.user("root", "admin")
    api.client.post("/kbs", headers=admin, json={"name": "kb", "read_groups": ["everyone"]})
    job_id = api.upload(admin, "kb", {"a.md": b"# A\n\nalpha text\n", "b.md": b"# B\n\nbeta text\n"}).json()[
        "job_id"
    ]
    _simulate_crash_mid_job(api, job_id, attempts=1)
    restarted = _restart(api, tmp_path, database_url)
    try:
        job = restarted.client.get(f"/jobs/{job_id}", headers=admin).json()
        assert job["status"] == "queued" and "restarted" in job["error"]
        restarted.run_jobs()
        job = restarted.client.get(f"/jobs/{job_id}", headers=admin).json()
        assert job["status"] == "succeeded" and job["added"] == 2
    finally:
        restarted.client.__exit__(None, None, None)


def test_job_that_keeps_dying_is_failed_with_the_reason(api: Api, tmp_path: Path, database_url: str) -> None:
    admin = api.user("root", "admin")
    api.client.post("/kbs", headers=admin, json={"name": "kb", "read_groups": ["everyone"]})
    job_id = api.upload(admin, "kb", {"a.md": b"# A\n\nalpha\n"}).json()["job_id"]
    _simulate_crash_mid_job(api, job_id, attempts=api.services.settings.job_max_attempts)
    restarted = _restart(api, tmp_path, database_url)
    try:
        job = restarted.client.get(f"/jobs/{job_id}", headers=admin).json()
        assert job["status"] == "failed" and "stopped 3 times" in job["error"] and job["finished_at"]
    finally:
        restarted.client.__exit__(None, None, None)


def test_background_runner_thread_finishes_jobs(tmp_path: Path) -> None:
    import time

    settings = api_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    ctx = AppContext(settings)
    ctx.use_embedder(HashingEmbedder())
    with TestClient(create_app(settings, ctx)) as client:
        api = Api(client, client.app.state.services)  # type: ignore[attr-defined]
        admin = api.user("root", "admin")
        client.post("/kbs", headers=admin, json={"name": "kb", "read_groups": ["everyone"]})
        job_id = api.upload(admin, "kb", {"a.md": b"# A\n\nalpha\n"}).json()["job_id"]
        deadline = time.monotonic() + 60
        while (status := client.get(f"/jobs/{job_id}", headers=admin).json()["status"]) in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, "job did not finish within 60 s"
            time.sleep(0.2)
        assert status == "succeeded"
