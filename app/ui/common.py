"""Session state, the API client of the signed-in user, and error display shared by the pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from app.ui.client import ApiClient, ApiError
from app.ui.config import api_url

T = TypeVar("T")


def client() -> ApiClient:
    """The signed-in user's client (token kept in the session)."""
    return ApiClient(api_url(), st.session_state.get("token"))


def attempt(action: Callable[[], T], *, what: str = "") -> T | None:
    """Run an API call; show its problem as a message a person can act on (never a traceback)."""
    try:
        return action()
    except ApiError as exc:
        if exc.status == 401 and st.session_state.get("token"):
            st.session_state.clear()
            st.warning("Your session ended (expired or signed out elsewhere). Please sign in again.")
            return None
        prefix = f"{what}: " if what else ""
        st.error(f"{prefix}{exc.detail}", icon="⚠️")
        return None


def where(item: dict[str, Any]) -> str:
    """'p. 3' or the section path of a citation or source."""
    if item.get("page"):
        return f"p. {item['page']}"
    return str(item.get("section") or "")


def show_citations(answer: dict[str, Any], key: str) -> None:
    """Numbered citations that expand to their snippet; unsupported sentences and abstention."""
    if answer.get("abstained"):
        st.info("Not covered by the knowledge base. The closest sources are:", icon="📭")
        for source in answer.get("closest_sources", []):
            st.markdown(
                f"- **{source.get('title') or source['source']}** ({source['source']} {where(source)})"
            )
        return
    for sentence in answer.get("unsupported_sentences", []):
        st.warning(f"Not supported by the cited sources: “{sentence}”", icon="❗")
    for cite in answer.get("citations", []):
        label = f"[{cite['n']}] {cite.get('title') or cite['source']} — {cite['source']} {where(cite)}"
        with st.expander(label):
            st.markdown(f"> {cite['snippet']}")
            if cite.get("section"):
                st.caption(f"Section: {cite['section']}")
