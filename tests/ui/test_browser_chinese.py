"""A Chinese user in real Chromium: the browser asks for Chinese (Accept-Language zh-CN), so the UI
speaks Chinese; the admin creates a base with the multilingual embedder from the knowledge-base page;
an employee asks the demo's Chinese base (samples/chinese, EmbeddingGemma, the default 1.5B model)
in Chinese and gets a Chinese answer citing the Chinese source, asks in English and gets an English
answer from the same Chinese source, and switches the UI to English. Screenshots:
test-artifacts/chinese/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.demo_site import api_and_ui, demo_env, kb

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "chinese"
ANSWER_MS = 900_000  # a 1.5B model on 2 shared cores; on an idle machine an answer takes seconds

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium not installed (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's Chinese base, demo users, the API and the UI; yields the UI's URL."""
    data = tmp_path_factory.mktemp("zh") / "data"
    env = demo_env(data)
    kb(env, "users", "demo")
    kb(env, "bases", "create", "zh-wiki", "--embedder", "multilingual", "--read-group", "everyone",
        "--exist-ok", "--description", "中文百科（CMRC 2018，CC BY-SA 4.0）")  # fmt: skip
    kb(env, "ingest", str(REPO / "samples" / "chinese" / "wiki"), "--kb", "zh-wiki")
    with api_and_ui(env, data) as ui_url:
        yield ui_url


def _sign_in(page, username: str, labels: tuple[str, str, str, str]) -> None:  # type: ignore[no-untyped-def]
    user, password, sign_in, sign_out = labels
    page.get_by_role("textbox", name=user).fill(username)
    page.get_by_role("textbox", name=password).fill(f"{username}-demo-pass")
    page.get_by_role("button", name=sign_in).click()
    page.get_by_role("button", name=sign_out).wait_for()


def _answer(page, question: str, done: str) -> str:  # type: ignore[no-untyped-def]
    """Wait for the answer to ``question`` (its timing line matches ``done``); its message text."""
    page.wait_for_function(
        """([q, done]) => {
          const ms = [...document.querySelectorAll('[data-testid="stChatMessage"]')];
          if (ms.length < 2) return false;
          const [asked, answer] = ms.slice(-2);
          return asked.innerText.includes(q) && new RegExp(done).test(answer.innerText);
        }""",
        arg=[question, done],
        timeout=ANSWER_MS,
    )
    return str(page.locator('[data-testid="stChatMessage"]').last.inner_text())


@pytest.mark.timeout(3600)
def test_a_chinese_user_creates_a_base_and_asks_in_chinese_and_english(site: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    from core.text_match import language_of

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(90_000)
            page.goto(site)
            expect(page.get_by_role("button", name="登录")).to_be_visible()
            page.screenshot(path=ARTIFACTS / "01-sign-in.png", full_page=True)

            # the admin creates a Chinese base with the multilingual embedder
            _sign_in(page, "admin", ("用户名", "密码", "登录", "退出登录"))
            page.get_by_role("link", name="知识库").click()
            page.get_by_text("创建知识库").first.click()
            page.get_by_role("textbox", name="名称").fill("zh-policies")
            page.get_by_role("combobox", name="嵌入模型").click()
            page.get_by_role(
                "option", name="multilingual — 中文、英文及跨语言（EmbeddingGemma-300M）"
            ).click()
            page.get_by_role("button", name="创建", exact=True).click()
            expect(page.get_by_text("已创建知识库 zh-policies。")).to_be_visible()
            table = page.locator('[data-testid="stDataFrame"]')
            expect(table).to_be_visible()
            page.screenshot(path=ARTIFACTS / "02-admin-created-multilingual-base.png", full_page=True)
            page.get_by_role("button", name="退出登录").click()

            # an employee asks the Chinese base in Chinese
            _sign_in(page, "employee", ("用户名", "密码", "登录", "退出登录"))
            page.get_by_label("知识库").first.click()
            page.get_by_role("option", name="zh-wiki").click()
            question = "芙蓉洞位于什么地方？"
            page.get_by_role("button", name=question).click()
            final = _answer(page, question, r"用时 \d")
            page.screenshot(path=ARTIFACTS / "03-chinese-question-chinese-answer.png", full_page=True)
            body = final.split("资料来源")[0]
            assert language_of(body) == "zh", final
            assert "重庆" in final or "武隆" in final or "知识库中没有相关内容" in final, final
            assert "芙蓉洞" in final  # the cited (or closest) source: the Chinese paragraph

            # the same base asked in English: an English answer from the Chinese source
            question = "Where is Furong Cave located?"
            box = page.get_by_placeholder("就知识库提一个问题……")
            box.fill(question)
            box.press("Enter")
            final = _answer(page, question, r"用时 \d")
            page.screenshot(path=ARTIFACTS / "04-english-question-chinese-source.png", full_page=True)
            assert "芙蓉洞" in final, final

            # the language switch turns the whole UI to English
            page.get_by_text("English", exact=True).click()
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
            expect(page.get_by_role("heading", name="Chat")).to_be_visible()
            page.screenshot(path=ARTIFACTS / "05-switched-to-english.png", full_page=True)
        finally:
            browser.close()
