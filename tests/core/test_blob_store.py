"""The local-folder blob store: atomic puts, reads, deletes, and keys that cannot escape the root."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from core.errors import NotFoundError
from core.stores.blob import LocalBlobStore


def test_put_open_exists_delete(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "uploads")
    assert blobs.put("7/policy.pdf", io.BytesIO(b"%PDF-1.7 body")) == 13
    assert blobs.exists("7/policy.pdf")
    with blobs.open("7/policy.pdf") as handle:
        assert handle.read() == b"%PDF-1.7 body"
    with blobs.local_path("7/policy.pdf") as path:
        assert path.read_bytes() == b"%PDF-1.7 body"
    blobs.put("7/policy.pdf", io.BytesIO(b"v2"))  # replaced whole, no temporary file left behind
    assert [p.name for p in (tmp_path / "uploads" / "7").iterdir()] == ["policy.pdf"]
    blobs.delete("7/policy.pdf")
    assert not blobs.exists("7/policy.pdf")
    with pytest.raises(NotFoundError, match="7/policy.pdf"):
        blobs.open("7/policy.pdf")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "7/../../x", "", "7//x"])
def test_keys_never_leave_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        LocalBlobStore(tmp_path).put(key, io.BytesIO(b"x"))
