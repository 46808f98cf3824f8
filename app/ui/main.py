"""Entry point of the Streamlit UI (`kb ui`): sign-in, then the pages the user's role allows."""

from __future__ import annotations

import streamlit as st

from app.ui import admin_page, agent_page, chat_page
from app.ui.client import ApiClient, ApiError
from app.ui.common import attempt, client
from app.ui.config import api_url

PAGES = {"Chat": ("admin", "agent", "employee"), "Agent desk": ("admin", "agent"), "Admin": ("admin",)}


def login_form() -> None:
    st.title("Knowledge assistant")
    st.caption(f"API: {api_url()}")
    with st.form("login"):
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        api = ApiClient(api_url())
        try:
            data = api.login(username, password)
        except ApiError as exc:
            st.error(exc.detail, icon="🔒")
            return
        st.session_state.token = data["access_token"]
        st.session_state.user = data["user"]
        st.rerun()


def main() -> None:
    st.set_page_config(page_title="Knowledge assistant", page_icon="📚", layout="wide")
    if not st.session_state.get("token"):
        login_form()
        return
    user = st.session_state.get("user") or attempt(lambda: client().me())
    if not user:
        login_form()
        return
    st.session_state.user = user
    allowed = [page for page, roles in PAGES.items() if user["role"] in roles]
    with st.sidebar:
        st.markdown(f"**{user['username']}** · {user['role']}")
        page = st.radio("Page", allowed, key="page")
        if st.button("Sign out"):
            attempt(lambda: client().logout())
            st.session_state.clear()
            st.rerun()
    if page == "Chat":
        chat_page.render()
    elif page == "Agent desk":
        agent_page.render()
    elif page == "Admin":
        admin_page.render()


main()
