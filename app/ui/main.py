"""The UI's pages (served by ``server.py``, which ``kb ui`` runs): sign-in, then the pages the
signed-in user's role allows. Every page talks to the API over HTTP only (``KB_API_URL``)."""

import sys
from pathlib import Path

# `streamlit run` puts only this folder on sys.path; the UI's modules live in the `app.ui` package.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from app.ui.i18n import N_, language_switch, t  # noqa: E402
from app.ui.session import current_user, run_cookie_script, show_flashes, sign_out  # noqa: E402

ROLE_LABELS = {"admin": N_("Admin"), "agent": N_("Support agent"), "employee": N_("Employee")}

st.set_page_config(page_title=t("Knowledge assistant"), page_icon="📚", layout="wide")
with st.sidebar:
    language_switch()

user = current_user()
if user is None:
    pages: dict[str, list[st.Page]] | list[st.Page] = [
        st.Page("views/login.py", title=t("Sign in"), icon=":material/login:", default=True)
    ]
else:
    role = user["role"]
    assistant = [st.Page("views/chat.py", title=t("Chat"), icon=":material/chat:", default=True)]
    if role in ("agent", "admin"):
        assistant.append(
            st.Page("views/agent_desk.py", title=t("Agent desk"), icon=":material/support_agent:")
        )
    pages = {t("Assistant"): assistant}
    if role == "admin":
        pages[t("Admin")] = [
            st.Page("views/admin_kbs.py", title=t("Knowledge bases"), icon=":material/library_books:"),
            st.Page("views/admin_upload.py", title=t("Upload"), icon=":material/upload_file:"),
            st.Page("views/admin_documents.py", title=t("Documents"), icon=":material/description:"),
            st.Page("views/admin_users.py", title=t("Users & groups"), icon=":material/group:"),
            st.Page("views/admin_feedback.py", title=t("Feedback"), icon=":material/thumbs_up_down:"),
            st.Page("views/admin_eval.py", title=t("Evaluation"), icon=":material/analytics:"),
            st.Page("views/admin_audit.py", title=t("Audit log"), icon=":material/policy:"),
        ]
    with st.sidebar:
        groups = ", ".join(user.get("groups") or []) or t("no groups")
        st.markdown(f"**{user['username']}** · {t(ROLE_LABELS.get(role, role))}")
        st.caption(t("Groups: {groups}", groups=groups))
        st.button(t("Sign out"), on_click=sign_out, icon=":material/logout:", key="sign_out")

page = st.navigation(pages)
run_cookie_script()
show_flashes()
page.run()
