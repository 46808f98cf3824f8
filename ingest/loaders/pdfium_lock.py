"""pdfium is not thread-safe: every call into it, from any loader, holds this one lock."""

from __future__ import annotations

import threading

PDFIUM_LOCK = threading.Lock()
