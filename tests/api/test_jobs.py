"""One job lifecycle: a job whose worker died is re-delivered once its lease expires and finishes
without duplicates; a stale attempt can never commit (fencing); a job that keeps dying becomes a
dead letter that an admin sees and retries."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.api.main import create_app
from app.context import AppContext
from core.db import ChunkRow, DocumentRow, IngestionJob, utcnow
from core.jobqueue import LeaseLost
from core.stores.consistency import check_consistency
from ingest.embedder import HashingEmbedder
from ingest.jobs import JobLease
from tests.api.conftest import Api, api_settings

DOCS = {"a.md": b"# A\n\nalpha text\n", "b.md": b"# B\n\nbeta text\n"}


def _worker_died(api: Api, job_id: str, attempts: int, seconds_ago: float = 3600) -> None:
    """The row as a worker killed mid-job leaves it: running, its heartbeat getting old."""
    with api.services.ctx.db.session() as session:
        session.execute(
            update(IngestionJob)
            .where(IngestionJob.id == job_id)
            .values(
                status="running",
                attempts=attempts,
                lease_owner="gone-host-1",
                heartbeat_at=utcnow() - timedelta(seconds=seconds_ago),
            )
        )


def _kb(api: Api) -> dict[str, str]:
    admin = api.user("root", "admin")
    api.client.post("/kbs", headers=admin, json={"name": "kb", "read_groups": ["everyone"]})
    return admin


def test_job_of_a_dead_worker_is_redelivered_and_finishes_once(api: Api) -> None:
    admin = _kb(api)
    job_id = api.upload(admin, "kb", DOCS).json()["job_id"]
    _worker_died(api, job_id, attempts=1, seconds_ago=1)
    api.run_jobs()  # the lease has not expired: a live worker may still hold it
    assert api.client.get(f"/jobs/{job_id}", headers=admin).json()["status"] == "running"
    _worker_died(api, job_id, attempts=1)
    api.run_jobs()
    job = api.client.get(f"/jobs/{job_id}", headers=admin).json()
    assert job["status"] == "succeeded" and job["added"] == 2 and job["attempts"] == 2
    assert job["worker"] and job["worker"] != "gone-host-1"
    api.run_jobs()  # a second delivery of a finished job does nothing
    with api.services.ctx.db.session() as session:
        assert session.scalar(select(func.count(DocumentRow.id))) == 2
        texts = session.scalars(select(ChunkRow.text)).all()
    assert len(texts) == len(set(texts))
    assert check_consistency(api.services.ctx.db, api.services.ctx.backends, "kb") == []


def test_a_stale_attempt_cannot_commit(api: Api) -> None:
    admin = _kb(api)
    job_id = api.upload(admin, "kb", DOCS).json()["job_id"]
    jobs = api.services.jobs.worker.jobs
    first = jobs.claim(job_id)
    assert first is not None and jobs.claim(job_id) is None  # held: nobody else gets it
    _worker_died(api, job_id, attempts=first.token)
    second = jobs.claim(job_id)
    assert second is not None and second.token == first.token + 1
    pipeline = api.services.ctx.pipeline
    with pytest.raises(LeaseLost):
        pipeline.ingest("kb", [], lease=JobLease(job_id, first.token), files=_files(api, job_id))
    with api.services.ctx.db.session() as session:
        assert session.scalar(select(func.count(ChunkRow.id))) == 0  # the old attempt wrote nothing
    report = pipeline.ingest("kb", [], lease=second, files=_files(api, job_id))
    assert report.added == 2


def _files(api: Api, job_id: str) -> list:  # type: ignore[type-arg]
    from ingest.sources import SourceFile

    job = api.services.ctx.worker.jobs.get(job_id)
    assert job is not None
    out = []
    for item in job.inputs["files"]:
        path = api.services.ctx.blobs.path(item["key"])  # type: ignore[attr-defined]
        out.append(SourceFile(path, item["source"], path.stat().st_size, key=item["key"]))
    return out


def test_job_that_keeps_dying_is_dead_and_an_admin_retries_it(api: Api) -> None:
    admin = _kb(api)
    job_id = api.upload(admin, "kb", {"a.md": b"# A\n\nalpha\n"}).json()["job_id"]
    _worker_died(api, job_id, attempts=api.services.settings.job_max_attempts)
    api.run_jobs()
    job = api.client.get(f"/jobs/{job_id}", headers=admin).json()
    assert job["status"] == "dead" and "stopped 3 times" in job["error"] and job["finished_at"]
    dead = api.client.get("/jobs?status=dead", headers=admin).json()
    assert [j["id"] for j in dead] == [job_id]
    employee = api.user("emp")
    assert api.client.post(f"/jobs/{job_id}/retry", headers=employee).status_code == 403
    retried = api.client.post(f"/jobs/{job_id}/retry", headers=admin)
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
    assert retried.json()["attempts"] == 0
    api.run_jobs()
    job = api.client.get(f"/jobs/{job_id}", headers=admin).json()
    assert job["status"] == "succeeded" and job["added"] == 1
    again = api.client.post(f"/jobs/{job_id}/retry", headers=admin)
    assert again.status_code == 409  # only finished jobs that did not succeed can be retried
    audit = api.client.get("/audit?action=job.retry", headers=admin).json()
    assert [e["target"] for e in audit] == [job_id]


def test_api_restart_leaves_a_running_job_to_its_lease(api: Api, tmp_path: Path, database_url: str) -> None:
    """A restarted API neither fails nor steals a job whose lease is alive (another replica may be
    running it); once the lease expires its runner finishes the job."""
    admin = _kb(api)
    job_id = api.upload(admin, "kb", DOCS).json()["job_id"]
    _worker_died(api, job_id, attempts=1, seconds_ago=0)
    settings = api_settings(api.services.settings.data_dir, database_url).model_copy(
        update={"job_lease_seconds": 1.0}
    )
    ctx = AppContext(settings)
    ctx.use_embedder(HashingEmbedder())
    with TestClient(create_app(settings, ctx)) as client:
        deadline = time.monotonic() + 60
        while (job := client.get(f"/jobs/{job_id}", headers=admin).json())["status"] != "succeeded":
            assert job["status"] == "running", job
            assert time.monotonic() < deadline, "the runner did not take the job over within 60 s"
            time.sleep(0.2)
    assert job["attempts"] == 2 and job["added"] == 2


def test_background_runner_thread_finishes_jobs(tmp_path: Path) -> None:
    settings = api_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    ctx = AppContext(settings)
    ctx.use_embedder(HashingEmbedder())
    with TestClient(create_app(settings, ctx)) as client:
        api = Api(client, client.app.state.services)  # type: ignore[attr-defined]
        admin = _kb(api)
        job_id = api.upload(admin, "kb", {"a.md": b"# A\n\nalpha\n"}).json()["job_id"]
        deadline = time.monotonic() + 60
        while (status := client.get(f"/jobs/{job_id}", headers=admin).json()["status"]) in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, "job did not finish within 60 s"
            time.sleep(0.2)
        assert status == "succeeded"
