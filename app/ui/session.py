"""Who is signed in (the token lives in ``st.session_state`` and, so a refresh keeps the user signed
in, in an HttpOnly cookie: ``app/ui/web_session.py``), the API client, and error display."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from app.ui.client import ApiClient, ApiError, ApiUnreachable
from app.ui.config import api_url
from app.ui.i18n import t
from app.ui.web_session import COOKIE, clear_cookie_script, issue_code, store_cookie_script

TOKEN, USER, FLASH = "auth_token", "auth_user", "flash_messages"
# HTML with a script to run once on the next page (store or clear the session cookie), and a mark
# that this browser session signed out (its cookie, if the script could not clear it, is not reused).
COOKIE_SCRIPT, SIGNED_OUT = "cookie_script", "signed_out"
KEPT = frozenset({FLASH, COOKIE_SCRIPT, SIGNED_OUT})


def client() -> ApiClient:
    """This browser session's API client, carrying its token (rebuilt when the URL or token changes)."""
    url, token = api_url(), st.session_state.get(TOKEN)
    cached: ApiClient | None = st.session_state.get("_api_client")
    if cached is None or cached.base_url != url or cached.token != token:
        cached = ApiClient(url, token)
        st.session_state["_api_client"] = cached
    return cached


def flash(message: str, kind: str = "success") -> None:
    """A message shown once, at the top of the next run (survives ``st.rerun``)."""
    st.session_state.setdefault(FLASH, []).append((kind, message))


def show_flashes() -> None:
    for kind, message in st.session_state.pop(FLASH, []):
        getattr(st, kind)(message)


def forget_login() -> None:
    """Drop everything this session knew: token, user, conversations on screen."""
    for key in list(st.session_state.keys()):
        if key not in KEPT:
            del st.session_state[key]


def sign_in(username: str, password: str) -> dict[str, Any]:
    """Log in through the API and keep the session token, here and (for refreshes and new tabs) in
    an HttpOnly cookie the page stores next; raises ``ApiError``."""
    login = ApiClient(api_url()).login(username, password)
    forget_login()
    st.session_state.pop(SIGNED_OUT, None)
    st.session_state[TOKEN] = login["access_token"]
    st.session_state[USER] = login["user"]
    code = issue_code(login["access_token"], login.get("expires_at"))
    st.session_state[COOKIE_SCRIPT] = store_cookie_script(code)
    user: dict[str, Any] = login["user"]
    return user


def sign_out() -> None:
    """Revoke the session token at the API (best effort), forget it here and clear the cookie."""
    if st.session_state.get(TOKEN):
        # Best effort: the token is forgotten here either way.
        with contextlib.suppress(ApiError):
            client().logout()
    forget_login()
    st.session_state[SIGNED_OUT] = True
    st.session_state[COOKIE_SCRIPT] = clear_cookie_script()
    flash(t("Signed out."), "info")


def _session_ended(detail: str) -> None:
    forget_login()
    st.session_state[COOKIE_SCRIPT] = clear_cookie_script()
    flash(t("Your session ended ({detail}). Please sign in again.", detail=detail), "warning")


def cookie_token() -> str | None:
    """The session token from this browser's cookie (set at sign-in), unless it signed out here."""
    if st.session_state.get(SIGNED_OUT):
        return None
    try:
        value = dict(st.context.cookies).get(COOKIE)
    except (AttributeError, RuntimeError, TypeError):  # no browser behind this run (a script test)
        return None
    return value if isinstance(value, str) and value else None


def run_cookie_script() -> None:
    """Run the pending cookie script (once) in the page."""
    script = st.session_state.pop(COOKIE_SCRIPT, None)
    if script:
        st.html(script, unsafe_allow_javascript=True)


def current_user() -> dict[str, Any] | None:
    """The signed-in user, re-read from ``GET /me`` each full run so a revoked token or a changed
    role takes effect at once; ``None`` when nobody is signed in (or the session ended)."""
    if not st.session_state.get(TOKEN):
        token = cookie_token()
        if not token:
            return None
        st.session_state[TOKEN] = token  # a refresh or a new tab of a signed-in browser
    try:
        user = client().me()
    except ApiUnreachable as exc:
        st.error(exc.detail)
        st.stop()
    except ApiError as exc:
        if exc.status != 401:
            raise
        _session_ended(exc.detail)
        return None
    st.session_state[USER] = user
    return user


def require_role(*roles: str) -> dict[str, Any]:
    """The signed-in user if their role is one of ``roles``; otherwise stop the page with a message."""
    user: dict[str, Any] | None = st.session_state.get(USER)
    if not user:
        st.warning(t("Please sign in."))
        st.stop()
    if roles and user["role"] not in roles:
        st.error(
            t(
                "This page needs the {roles} role; you are signed in as {role}.",
                roles=" / ".join(roles),
                role=user["role"],
            )
        )
        st.stop()
    return user


@contextmanager
def api_errors(action: str = "") -> Iterator[None]:
    """Show an API failure as ``st.error`` with the problem's detail (never a traceback) and skip
    the rest of the block. A 401 means the session ended: back to the sign-in page."""
    try:
        yield
    except ApiError as exc:
        if exc.status == 401 and st.session_state.get(TOKEN):
            _session_ended(exc.detail)
            st.rerun()
        prefix = t("{action} failed: ", action=action) if action else ""
        st.error(prefix + exc.detail, icon="⚠️")
