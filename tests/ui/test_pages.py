"""Streamlit AppTest runs of each page against the live API (over HTTP, as deployed)."""

from __future__ import annotations

from pathlib import Path

import httpx
from streamlit.testing.v1 import AppTest

from app.ui import admin_page
from app.ui.client import ApiClient
from tests.api.conftest import PASSWORD
from tests.ui.conftest import LiveApi

MAIN = str(Path(__file__).resolve().parents[2] / "app" / "ui" / "main.py")


def _signed_in(live: LiveApi, username: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.run()
    at.text_input[0].input(username)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.label for e in at.expander] + [str(i.value) for i in at.info]
    return "\n".join(str(p) for p in parts)


def test_login_refuses_wrong_password_with_a_message(ui_env: LiveApi) -> None:
    at = AppTest.from_file(MAIN, default_timeout=30)
    at.run()
    at.text_input[0].input("employee")
    at.text_input[1].input("wrong password")
    at.button[0].click().run()
    assert "wrong username or password" in at.error[0].value
    assert not at.exception


def test_pages_follow_the_role(ui_env: LiveApi) -> None:
    assert _signed_in(ui_env, "employee").radio(key="page").options == ["Chat"]
    assert _signed_in(ui_env, "agent").radio(key="page").options == ["Chat", "Agent desk"]
    assert _signed_in(ui_env, "admin").radio(key="page").options == ["Chat", "Agent desk", "Admin"]


def test_chat_streams_an_answer_with_citations_and_takes_feedback(ui_env: LiveApi) -> None:
    at = _signed_in(ui_env, "employee")
    at.chat_input[0].set_value("Does PerksPlus cover yoga classes?").run()
    assert not at.exception, at.exception
    labels = [e.label for e in at.expander]
    assert any(label.startswith("[1]") and "perksplus.md" in label for label in labels), labels
    snippet = at.expander[0].markdown[0].value
    assert "PerksPlus" in snippet
    # Feedback on the answer reaches the API (the admin sees it).
    at.radio(key="rating-m1").set_value("👎")
    at.text_input(key="comment-m1").input("needs the yearly limit")
    at.button(key="FormSubmitter:feedback-m1-Send").click().run()
    assert any("feedback was recorded" in s.value for s in at.success)
    review = httpx.get(f"{ui_env.url}/feedback", headers=ui_env.headers("admin")).json()
    assert review[0]["comment"] == "needs the yearly limit"
    # The conversation is in the sidebar history.
    assert any(b.label.startswith("Does PerksPlus cover yoga") for b in at.sidebar.button)


def test_chat_shows_not_covered_state(ui_env: LiveApi) -> None:
    at = _signed_in(ui_env, "employee")
    at.chat_input[0].set_value("zzzz qqqq xxxx").run()  # nothing in the base matches
    assert not at.exception
    assert any("Not covered by the knowledge base" in i.value for i in at.info)


def test_agent_desk_drafts_an_editable_reply_with_sources(ui_env: LiveApi) -> None:
    at = _signed_in(ui_env, "agent")
    at.radio(key="page").set_value("Agent desk").run()
    at.radio(key="agent_tone").set_value("formal")
    at.text_area(key="customer_message").input("Can I expense my yoga classes with PerksPlus?")
    at.button(key="draft_button").click().run()
    assert not at.exception, at.exception
    draft = at.text_area(key="draft_text").value
    assert draft and at.code[0].value == draft
    assert any("perksplus.md" in e.label for e in at.expander)
    assert at.button(key="draft_button").label == "Regenerate draft"


def test_admin_upload_progress_and_failures(ui_env: LiveApi) -> None:
    api = ApiClient(ui_env.url, ui_env.token("admin"))
    at = _signed_in(ui_env, "admin")
    at.radio(key="page").set_value("Admin").run()
    assert not at.exception, at.exception
    # AppTest cannot drive st.file_uploader: upload through the page's own function, then render.
    job_id = admin_page.upload_files(
        api, "benefits", [("faq.md", b"# FAQ\n\nAsk HR."), ("scan.pdf", b"not a pdf")], []
    )
    assert job_id
    while api.job(job_id)["status"] in ("queued", "running"):
        pass
    at.session_state["jobs"] = [job_id]
    at.run()
    assert not at.exception, at.exception
    progress_texts = [p.proto.text for p in at.get("progress")]
    assert any("partial" in t and "2/2 files" in t for t in progress_texts), progress_texts
    assert any("scan.pdf" in e.value for e in at.error)


def test_admin_creates_knowledge_bases_groups_and_users(ui_env: LiveApi) -> None:
    at = _signed_in(ui_env, "admin")
    at.radio(key="page").set_value("Admin").run()
    at.text_input(key="new_kb_name").input("returns")
    at.button(key="FormSubmitter:create_kb-Create").click().run()
    assert not at.exception, at.exception
    at.text_input(key="new_group").input("support")
    at.button(key="FormSubmitter:create_group-Create group").click().run()
    at.text_input(key="new_user_name").input("newagent")
    at.text_input(key="new_user_password").input("short")
    at.selectbox(key="new_user_role").set_value("agent")
    at.button(key="FormSubmitter:create_user-Create user").click().run()
    assert any("at least 10" in e.value for e in at.error)  # the API's reason, shown as is
    admin = ui_env.headers("admin")
    assert "returns" in {kb["name"] for kb in httpx.get(f"{ui_env.url}/kbs", headers=admin).json()}
    assert "support" in {g["name"] for g in httpx.get(f"{ui_env.url}/groups", headers=admin).json()}
    assert len(at.dataframe) >= 2, "the tables render"


def test_api_errors_are_messages_not_tracebacks(ui_env: LiveApi, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    at = _signed_in(ui_env, "employee")
    monkeypatch.setenv("KB_API_URL", "http://127.0.0.1:9")  # nothing listens there
    at.run()
    assert not at.exception
    assert any("kb serve" in e.value for e in at.error)
