"""UI settings: where the API is. The UI reads only this (it may run on another host than the API)."""

from __future__ import annotations

import os


def api_url() -> str:
    return os.environ.get("KB_API_URL", "http://127.0.0.1:8000").rstrip("/")
