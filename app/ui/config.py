"""The UI's settings: where the API lives (``KB_API_URL``), so the UI can run on another host, and
the language it shows when the browser names none the UI speaks (``KB_UI_LANGUAGE``: en | zh)."""

from __future__ import annotations

import os

DEFAULT_API_URL = "http://127.0.0.1:8000"


def api_url() -> str:
    """The API's base URL without a trailing slash, from ``KB_API_URL`` (default ``DEFAULT_API_URL``)."""
    return (os.environ.get("KB_API_URL") or DEFAULT_API_URL).rstrip("/")


def ui_language() -> str:
    """The configured default UI language ("" when unset)."""
    return os.environ.get("KB_UI_LANGUAGE", "").strip().lower()
