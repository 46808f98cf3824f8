"""Hostile or broken input: each gets a clear 4xx problem and leaves nothing half-written."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.services.uploads import safe_filename
from core.db import IngestionJob
from tests.api.conftest import Api


@pytest.fixture
def admin(api: Api) -> dict[str, str]:
    headers = api.user("root", "admin")
    assert (
        api.client.post("/kbs", headers=headers, json={"name": "kb", "read_groups": ["everyone"]}).status_code
        == 201
    )
    return headers


def _nothing_written(api: Api) -> None:
    upload_dir = api.services.settings.upload_dir
    leftovers = [p for p in upload_dir.rglob("*")] if upload_dir.exists() else []
    assert leftovers == [], leftovers
    with api.services.ctx.db.session() as session:
        assert session.scalar(select(func.count()).select_from(IngestionJob)) == 0


def _zip_bomb(expanded: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * expanded)
    return buffer.getvalue()


def test_oversized_wrong_type_and_bomb_are_refused_whole(api: Api, admin: dict[str, str]) -> None:
    api.services.settings.max_file_bytes = 2000
    api.services.settings.max_expanded_bytes = 1_000_000
    good = b"# ok\n\nfine text\n"
    cases = [
        ({"good.md": good, "big.txt": b"x" * 5000}, 413, "limit"),
        ({"good.md": good, "tool.exe": b"MZ\x90\x00"}, 415, "not supported"),
        ({"noext": b"hello"}, 415, "not supported"),
        ({"bomb.docx": _zip_bomb(3_000_000)}, 413, "bomb.docx"),
        ({"empty.txt": b""}, 400, "empty"),
    ]
    for files, status, words in cases:
        response = api.upload(admin, "kb", files)
        assert response.status_code == status, (files.keys(), response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert words in response.json()["detail"]
        _nothing_written(api)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
        ("/abs/path/report.PDF", "report.pdf"),
        ("na\x00me\n.md", "name.md"),
        ("rapport d'été.md", "rapport d_été.md"),
    ],
)
def test_file_names_are_sanitised(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_traversal_names_land_inside_the_upload_dir(api: Api, admin: dict[str, str]) -> None:
    response = api.upload(admin, "kb", {"../../../escape.md": b"# escape\n\nshould stay inside\n"})
    assert response.status_code == 202 and response.json()["files"][0]["filename"] == "escape.md"
    api.run_jobs()
    data_dir = api.services.settings.data_dir
    assert not (data_dir.parent / "escape.md").exists() and not Path("escape.md").exists()
    stored = list(api.services.settings.upload_dir.rglob("escape.md"))
    assert len(stored) == 1 and stored[0].resolve().is_relative_to(api.services.settings.upload_dir.resolve())
    for bad in ("..", "../", "..."):
        assert api.upload(admin, "kb", {bad: b"x"}).status_code == 400


def test_malformed_json_and_bad_fields(api: Api, admin: dict[str, str]) -> None:
    raw = api.client.post("/kbs", headers={**admin, "content-type": "application/json"}, content=b"{not json")
    assert raw.status_code == 422 and raw.json()["detail"].startswith("invalid request")
    assert api.client.post("/kbs", headers=admin, json={"name": "../x"}).status_code == 400
    assert api.client.post("/kbs", headers=admin, json={"name": "kb2", "unknown": 1}).status_code == 422
    assert (
        api.client.post("/kbs", headers=admin, json={"name": "kb3", "read_groups": ["ghosts"]}).status_code
        == 404
    )
    assert api.client.post("/search", headers=admin, json={"query": "", "kbs": ["kb"]}).status_code == 422
    assert (
        api.client.post("/search", headers=admin, json={"query": "x", "kbs": ["kb"], "k": 10_000}).status_code
        == 422
    )
    assert api.client.post("/chat", headers=admin, json={"question": "   ", "kbs": ["kb"]}).status_code == 400
    assert api.client.post("/chat", headers=admin, json={"question": "hi", "kbs": []}).status_code == 400
    assert api.upload(admin, "missing-kb", {"a.md": b"# a\n\nb"}).status_code == 404
    _nothing_written(api)


def test_broken_file_content_is_reported_per_file_and_the_rest_lands(api: Api, admin: dict[str, str]) -> None:
    files = {"fake.pdf": b"this is not a pdf at all", "real.md": b"# Real\n\nReal content here.\n"}
    job_id = api.upload(admin, "kb", files).json()["job_id"]
    api.run_jobs()
    job = api.client.get(f"/jobs/{job_id}", headers=admin).json()
    outcomes = {r["path"]: r for r in job["results"]}
    assert job["status"] == "partial"
    assert outcomes["real.md"]["outcome"] == "added"
    assert outcomes["fake.pdf"]["outcome"] == "failed" and outcomes["fake.pdf"]["error"]
    docs = {d["source"]: d for d in api.client.get("/kbs/kb/documents", headers=admin).json()}
    assert docs["fake.pdf"]["status"] == "failed" and docs["real.md"]["status"] == "ready"


def test_staging_left_by_a_killed_process_is_swept(api: Api, admin: dict[str, str]) -> None:
    import os
    import time

    root = api.services.settings.upload_dir
    old = root / ".staging-killed"
    old.mkdir(parents=True)
    (old / "half.pdf").write_bytes(b"%PDF-1.7 half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    fresh = root / ".staging-busy"
    fresh.mkdir()  # another replica's upload in progress: kept
    api.client.post("/kbs", headers=admin, json={"name": "sweep", "read_groups": ["everyone"]})
    assert api.upload(admin, "sweep", {"a.md": b"# A\n\nalpha\n"}).status_code == 202
    assert not old.exists() and fresh.exists()
