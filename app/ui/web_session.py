"""Signed-in sessions that survive a refresh: the API session token lives in an HttpOnly cookie.

Streamlit talks to the browser over a websocket, which cannot set cookies, so sign-in hands the
browser a one-time code (valid for a minute) and the page swaps it for the cookie at
``POST /_kb/session`` (``app/ui/server.py``). The cookie is sent with the websocket handshake of every
later page load, so a refresh or a link opened in a new tab stays signed in; the token never appears
in a URL. Signing out revokes the token at the API and clears the cookie.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import UTC, datetime

COOKIE = "kb_session"
SESSION_PATH = "/_kb/session"
FILES_PATH = "/_kb/files"
CODE_SECONDS = 60.0

_codes: dict[str, tuple[str, float, float]] = {}  # code → (token, cookie max-age s, code expiry)
_lock = threading.Lock()


def issue_code(token: str, expires_at: str | None) -> str:
    """A one-time code the browser redeems for a cookie carrying ``token`` (until ``expires_at``)."""
    max_age = 12 * 3600.0
    if expires_at:
        max_age = max(60.0, (datetime.fromisoformat(expires_at) - datetime.now(UTC)).total_seconds())
    code = secrets.token_urlsafe(32)
    now = time.monotonic()
    with _lock:
        for stale in [c for c, (_, _, until) in _codes.items() if until < now]:
            del _codes[stale]
        _codes[code] = (token, max_age, now + CODE_SECONDS)
    return code


def redeem(code: str) -> tuple[str, float] | None:
    """(token, cookie max-age in seconds) for a fresh code, once; None otherwise."""
    with _lock:
        found = _codes.pop(code, None)
    if found is None or found[2] < time.monotonic():
        return None
    return found[0], found[1]


def store_cookie_script(code: str) -> str:
    """HTML whose script swaps ``code`` for the session cookie."""
    body = json.dumps({"code": code})
    return (
        f"<script>fetch('{SESSION_PATH}', {{method: 'POST', credentials: 'same-origin', "
        f"headers: {{'Content-Type': 'application/json'}}, body: '{body}'}});</script>"
    )


def clear_cookie_script() -> str:
    return f"<script>fetch('{SESSION_PATH}', {{method: 'DELETE', credentials: 'same-origin'}});</script>"
