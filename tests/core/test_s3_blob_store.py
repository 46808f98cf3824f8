"""The S3 blob store against a real S3 server (Ceph's RADOS Gateway from scripts/s3_throwaway.sh):
the same checks as the local folder's, and an upload through the API that a worker reads back from
the bucket and the document's original served from it."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import NotFoundError
from core.settings import Settings
from core.stores.s3 import S3BlobStore
from tests.conftest import REPO
from tests.servers import free_port

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    if not shutil.which("radosgw"):
        pytest.skip("Ceph's radosgw is not installed (scripts/system_deps.sh installs it)")
    script = str(REPO / "scripts" / "s3_throwaway.sh")
    for _ in range(3):  # the monitor listens on port + 1, which free_port() did not check
        # Outside pytest's private tmp dir, readable by all: started as root, Ceph's daemons drop to `ceph`.
        folder = Path(tempfile.mkdtemp(prefix="kb-rgw-"))
        folder.chmod(0o755)
        started = subprocess.run(
            ["bash", script, "start", str(folder), str(free_port())],
            capture_output=True,
            text=True,
            timeout=180,
        )
        if started.returncode == 0:
            break
        subprocess.run(["bash", script, "stop", str(folder)], check=False)
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        url, key, secret = started.stdout.split()
        yield url, key, secret
    finally:
        subprocess.run(["bash", script, "stop", str(folder)], check=False)


def s3_settings(server: tuple[str, str, str], data_dir: Path, bucket: str, **extra: object) -> Settings:
    url, key, secret = server
    return Settings(
        data_dir=data_dir,
        blob_backend="s3",
        s3_endpoint_url=url,
        s3_bucket=bucket,
        s3_access_key_id=key,
        s3_secret_access_key=secret,  # type: ignore[arg-type]
        s3_region="us-east-1",
        **extra,  # type: ignore[arg-type]
    )


def _store(server: tuple[str, str, str], tmp_path: Path, bucket: str) -> S3BlobStore:
    store = S3BlobStore(s3_settings(server, tmp_path, bucket))
    store.client.create_bucket(Bucket=bucket)
    return store


def test_put_open_local_path_delete(s3_server: tuple[str, str, str], tmp_path: Path) -> None:
    blobs = _store(s3_server, tmp_path, "kb-basic")
    assert blobs.put("7/job1/policy.pdf", io.BytesIO(b"%PDF-1.7 body")) == 13
    assert blobs.exists("7/job1/policy.pdf")
    with blobs.open("7/job1/policy.pdf") as handle:
        assert handle.read() == b"%PDF-1.7 body"
    with blobs.local_path("7/job1/policy.pdf") as path:
        assert path.read_bytes() == b"%PDF-1.7 body" and path.name == "policy.pdf"
    assert not path.exists()  # the temporary copy is gone with the context
    big = bytes(range(256)) * (20 * 4096)  # 20 MiB: a multipart upload
    assert blobs.put("7/job1/big.bin", io.BytesIO(big)) == len(big)
    blobs.put("7/job2/other.md", io.BytesIO(b"x"))
    blobs.delete_prefix("7/job1")
    assert not blobs.exists("7/job1/policy.pdf") and not blobs.exists("7/job1/big.bin")
    assert blobs.exists("7/job2/other.md")
    blobs.delete("7/job2/other.md")
    with pytest.raises(NotFoundError):
        blobs.open("7/job2/other.md")
    with pytest.raises(ValueError, match="invalid blob key"):
        blobs.put("../escape", io.BytesIO(b"x"))


def test_upload_is_read_by_the_worker_from_the_bucket(
    s3_server: tuple[str, str, str], tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from app.api.main import create_app
    from app.context import AppContext
    from ingest.embedder import HashingEmbedder
    from tests.api.conftest import Api

    settings = s3_settings(
        s3_server,
        tmp_path / "data",
        "kb-uploads",
        database_url=f"sqlite:///{tmp_path / 'kb.sqlite3'}",
        llm_backend="echo",
        reranker="none",
    )
    ctx = AppContext(settings)
    ctx.use_embedder(HashingEmbedder())
    ctx.blobs.client.create_bucket(Bucket="kb-uploads")  # type: ignore[attr-defined]
    with TestClient(create_app(settings, ctx, run_jobs=False)) as client:
        api = Api(client, client.app.state.services)  # type: ignore[attr-defined]
        admin = api.user("root", "admin")
        client.post("/kbs", headers=admin, json={"name": "kb", "read_groups": ["everyone"]})
        body = b"# Travel\n\nTrain tickets are refunded within 30 days.\n"
        job_id = api.upload(admin, "kb", {"travel.md": body}).json()["job_id"]
        assert not list((tmp_path / "data").rglob("travel.md"))  # nothing kept on the API's disk
        api.run_jobs()
        job = client.get(f"/jobs/{job_id}", headers=admin).json()
        assert job["status"] == "succeeded" and job["added"] == 1
        doc = client.get("/kbs/kb/documents", headers=admin).json()[0]
        original = client.get(f"/documents/{doc['id']}/file", headers=admin)
        assert original.status_code == 200 and original.content == body
        listed = ctx.blobs.client.list_objects_v2(Bucket="kb-uploads")["Contents"]  # type: ignore[attr-defined]
        assert [o["Key"] for o in listed] == [f"uploads/1/{job_id}/travel.md"]
