"""The upload page offers exactly the file types the API ingests (the UI cannot import the registry)."""

from __future__ import annotations

from app.ui.uploads import ACCEPTED_TYPES
from ingest.loaders import SUPPORTED_EXTENSIONS


def test_upload_picker_offers_every_supported_type() -> None:
    assert sorted(f".{t}" for t in ACCEPTED_TYPES) == sorted(SUPPORTED_EXTENSIONS)
