"""The UI's only setting: where the API lives (``KB_API_URL``), so the UI can run on another host."""

from __future__ import annotations

import os

DEFAULT_API_URL = "http://127.0.0.1:8000"


def api_url() -> str:
    """The API's base URL without a trailing slash, from ``KB_API_URL`` (default ``DEFAULT_API_URL``)."""
    return (os.environ.get("KB_API_URL") or DEFAULT_API_URL).rstrip("/")
