"""Sign-in, sign-out and the pages each role sees (AppTest against the live API)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.ui.session import TOKEN
from tests.servers import free_port
from tests.ui.conftest import PASSWORD, UI_MAIN, LiveApi, app_as

ADMIN_PAGES = [
    "views/admin_kbs.py",
    "views/admin_upload.py",
    "views/admin_documents.py",
    "views/admin_users.py",
    "views/admin_feedback.py",
    "views/admin_eval.py",
    "views/admin_audit.py",
]


def sign_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    by_label = {w.label: w for w in at.text_input}
    by_label["Username"].set_value(username)
    by_label["Password"].set_value(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_sign_in_shows_chat_then_sign_out_returns_to_login(ui_env: LiveApi) -> None:
    at = app_as(ui_env)
    assert not at.exception
    assert "📚 Knowledge assistant" in titles(at)
    sign_in(at, "employee")
    assert not at.exception and not at.error
    assert at.session_state[TOKEN]
    assert titles(at) == ["Chat"]
    assert any("employee" in m.value for m in at.sidebar.markdown)

    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert TOKEN not in at.session_state
    assert "📚 Knowledge assistant" in titles(at)
    assert any("Signed out" in i.value for i in at.info)


def test_wrong_password_is_an_error_message_not_a_traceback(ui_env: LiveApi) -> None:
    at = sign_in(app_as(ui_env), "employee-typo", "not the password")
    assert not at.exception
    assert at.error and at.error[0].value
    assert TOKEN not in at.session_state


def test_revoked_session_goes_back_to_sign_in(ui_env: LiveApi) -> None:
    at = AppTest.from_file(str(UI_MAIN), default_timeout=30)
    at.session_state[TOKEN] = "not-a-real-token"
    at.run()
    assert not at.exception
    assert "📚 Knowledge assistant" in titles(at)
    assert any("session ended" in w.value for w in at.warning)


@pytest.mark.parametrize(
    ("username", "allowed", "denied"),
    [
        ("employee", ["views/chat.py"], ["views/agent_desk.py", *ADMIN_PAGES]),
        ("agent", ["views/chat.py", "views/agent_desk.py"], ADMIN_PAGES),
        ("admin", ["views/chat.py", "views/agent_desk.py", *ADMIN_PAGES], []),
    ],
)
def test_pages_depend_on_role(ui_env: LiveApi, username: str, allowed: list[str], denied: list[str]) -> None:
    at = app_as(ui_env, username)
    for page in allowed:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])
    for page in denied:
        with pytest.raises(ValueError, match="navigation page"):
            at.switch_page(page)


def test_unreachable_api_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("KB_API_URL", url)
    at = sign_in(app_as(None), "employee")
    assert not at.exception
    assert [e.value for e in at.error] == [f"API not reachable at {url}; start it with `kb serve`"]
