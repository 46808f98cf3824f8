"""Sign-in page: username and password against ``POST /auth/login``."""

import streamlit as st

from app.ui.client import ApiError
from app.ui.config import api_url
from app.ui.i18n import t
from app.ui.session import sign_in

st.title("📚 " + t("Knowledge assistant"))
st.write(t("Ask questions about your company's documents and see exactly where each answer comes from."))

with st.form("login"):
    username = st.text_input(t("Username"), autocomplete="username")
    password = st.text_input(t("Password"), type="password", autocomplete="current-password")
    submitted = st.form_submit_button(t("Sign in"), type="primary")

if submitted:
    if not username or not password:
        st.error(t("Enter your username and password."))
    else:
        try:
            sign_in(username.strip(), password)
        except ApiError as exc:
            st.error(exc.detail, icon="⚠️")
        else:
            st.rerun()

st.caption(f"API: {api_url()}")
