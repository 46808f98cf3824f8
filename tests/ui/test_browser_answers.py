"""Issue 10's seven steps, replayed as a new user would in real Chromium on the demo bases (the
samples, the real embedder and the default 1.5B model), asserting the new behaviour:

1. a streamed answer is never replaced by something else (every streamed text is part of the answer);
2. an unsupported claim ("visit the PerksPlus website") is never shown;
3. a product question the top passage answers ("ages 8 and up") gets an answer, and the sources
   listed are one per document and page, each with its snippet;
4. a follow-up after a not-covered turn is answered;
5. the agent's copy-ready draft holds no internal notice, which is shown beside it;
6. a conversation reopened from History shows what was shown live, closest sources included;
7. a refresh or a page opened in a new tab stays signed in (no token in the URL); signing out ends it.
Citations open the original through the UI (permission-checked by the API). Screenshots:
test-artifacts/answers/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.demo_site import api_and_ui, demo_env, kb

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
ARTIFACTS = REPO / "test-artifacts" / "answers"
ANSWER_MS = 900_000  # a 1.5B model on 2 shared cores; on an idle machine an answer takes seconds
NOT_COVERED = "Not covered by the knowledge base"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium not installed (apt-get install chromium)"
    ),
]

# Every text the streaming placeholder (the one ending in the typing cursor) ever showed.
WATCH_STREAM = """() => {
  window.__streamed = [];
  new MutationObserver(() => {
    document.querySelectorAll('[data-testid="stMarkdownContainer"]').forEach((el) => {
      const text = el.innerText;
      if (text.includes('\u258c')) {
        const shown = text.split('\u258c')[0].replace(/\\s+/g, ' ').trim();
        if (shown && !window.__streamed.includes(shown)) window.__streamed.push(shown);
      }
    });
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's customer-service and retail bases, the API and the UI; yields the UI's URL."""
    data = tmp_path_factory.mktemp("demo") / "data"
    env = demo_env(data)
    kb(env, "users", "demo")
    kb(
        env,
        "bases",
        "create",
        "customer-service",
        "--scenario",
        "customer_service",
        "--read-group",
        "everyone",
    )
    kb(env, "bases", "create", "retail", "--scenario", "retail", "--read-group", "everyone")
    kb(
        env,
        "ingest",
        *map(str, sorted((SAMPLES / "customer_service").glob("*.pdf"))),
        "--kb",
        "customer-service",
    )
    kb(env, "ingest", *map(str, sorted((SAMPLES / "retail").glob("B0*.md"))), "--kb", "retail")
    with api_and_ui(env, data) as ui_url:
        yield ui_url


def _sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(f"{username}-demo-pass")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def _ask(page, question: str) -> str:  # type: ignore[no-untyped-def]
    """Ask, wait for the finished answer, and return the text of the last assistant message."""
    page.evaluate(WATCH_STREAM)
    box = page.get_by_placeholder("Ask a question about the knowledge base…")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        """(q) => {
          const ms = [...document.querySelectorAll('[data-testid="stChatMessage"]')];
          if (ms.length < 2) return false;
          const [asked, answer] = ms.slice(-2);
          return asked.innerText.includes(q) && /Answered in \\d/.test(answer.innerText);
        }""",
        arg=question,
        timeout=ANSWER_MS,
    )
    return str(page.locator('[data-testid="stChatMessage"]').last.inner_text())


def _never_withdrawn(page, final: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every text the stream showed is part of the final answer."""
    streamed: list[str] = page.evaluate("window.__streamed")
    final_flat = " ".join(final.split())
    for shown in streamed:
        assert shown in final_flat, f"streamed text was withdrawn:\n{shown!r}\nfinal:\n{final_flat!r}"
    return streamed


def _source_keys(message) -> list[str]:  # type: ignore[no-untyped-def]
    """Title and place of each source listed in an answer (citations and closest sources)."""
    labels = message.locator('[data-testid="stExpander"] summary').all_inner_texts()
    closest = message.locator('[data-testid="stVerticalBlockBorderWrapper"] strong').all_inner_texts()
    return [" ".join(t.split()) for t in labels + closest]


@pytest.mark.timeout(2400)  # six answers of a 1.5B model on 2 cores
def test_the_seven_steps_of_issue_10(demo: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1100})
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(demo)
            _sign_in(page, "employee")

            # 1. a correct list streams in and stays
            final = _ask(page, "What fitness-related expenses are covered by PerksPlus?")
            streamed = _never_withdrawn(page, final)
            assert NOT_COVERED not in final and "gym" in final.lower(), final
            assert streamed, "no checked sentence was streamed"
            page.screenshot(path=ARTIFACTS / "01-perksplus-covered.png", full_page=True)
            link = page.locator('a[href*="/_kb/files/"]').first
            expect(link).to_have_attribute("href", re.compile(r"^/_kb/files/\w+#page=\d+$"))
            href = str(link.get_attribute("href"))
            original = page.request.get(demo + href.split("#")[0])
            assert original.status == 200 and original.headers["content-type"] == "application/pdf"

            # 2. a claim the documents do not make is never shown
            page.get_by_role("button", name="New conversation").click()
            final = _ask(page, "How do I submit a claim for PerksPlus?")
            _never_withdrawn(page, final)
            assert "perksplus website" not in final.lower(), final
            page.screenshot(path=ARTIFACTS / "02-claim-not-invented.png", full_page=True)
            step2 = page.locator('[data-testid="stChatMessage"]').last
            live_sources = _source_keys(step2)

            # 4. the follow-up after that turn is answered
            final = _ask(page, "And what is the maximum amount?")
            _never_withdrawn(page, final)
            assert NOT_COVERED not in final and re.search(r"\$?1,?000", final), final
            page.screenshot(path=ARTIFACTS / "04-follow-up-answered.png", full_page=True)

            # 3. retail: "ages 8 and up" answers; sources once per document and page, with snippets
            page.get_by_role("button", name="New conversation").click()
            page.get_by_label("Knowledge base").first.click()
            page.get_by_role("option", name="retail").click()
            final = _ask(page, "Is the Mexican Train domino set suitable for kids?")
            _never_withdrawn(page, final)
            assert NOT_COVERED not in final and "8" in final, final
            message = page.locator('[data-testid="stChatMessage"]').last
            keys = _source_keys(message)
            assert keys and len(keys) == len(set(keys)), keys
            page.screenshot(path=ARTIFACTS / "03-retail-ages.png", full_page=True)

            # 6. History reopens step 2's conversation with what was shown live
            page.reload()
            page.get_by_role("button", name="How do I submit a claim for PerksPlus?").click()
            reopened = page.locator('[data-testid="stChatMessage"]').filter(
                has_text="How do I submit a claim"
            )
            expect(reopened.first).to_be_visible()
            first_answer = page.locator('[data-testid="stChatMessage"]').nth(1)
            expect(first_answer).to_contain_text(re.compile(r"Answered in \d"))  # rendered last
            assert _source_keys(first_answer) == live_sources
            page.screenshot(path=ARTIFACTS / "06-history-reopened.png", full_page=True)

            # while waiting: the elapsed time shows, and Stop ends the answer (nothing is saved)
            page.get_by_role("button", name="New conversation").click()
            box = page.get_by_placeholder("Ask a question about the knowledge base…")
            box.fill("What does the employee handbook say about workplace safety?")
            box.press("Enter")
            expect(page.get_by_text(re.compile(r"(Searching|Reading|Writing).*… \d+ s"))).to_be_visible()
            page.screenshot(path=ARTIFACTS / "08-waiting-elapsed-and-stop.png", full_page=True)
            history_before = page.locator('[data-testid="stSidebar"] button').count()
            page.get_by_role("button", name="Stop").click()
            expect(page.get_by_text(re.compile(r"Stopped"))).to_be_visible()
            page.screenshot(path=ARTIFACTS / "09-stopped.png", full_page=True)
            assert page.locator('[data-testid="stSidebar"] button').count() == history_before

            # 7. refresh and a new tab stay signed in, without a token in the URL; sign-out ends it
            page.reload()
            page.get_by_role("button", name="Sign out").wait_for()
            tab = context.new_page()
            tab.goto(demo + "/agent_desk")
            expect(tab.get_by_role("button", name="Sign out")).to_be_visible()
            assert "token" not in tab.url.lower() and "kb_session" not in tab.url
            tab.screenshot(path=ARTIFACTS / "07-new-tab-signed-in.png", full_page=True)
            tab.close()
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("textbox", name="Username")).to_be_visible()
            page.reload()
            expect(page.get_by_role("textbox", name="Username")).to_be_visible()
            assert page.request.get(demo + href.split("#")[0]).status == 401  # signed out: no file

            # 5. the agent's draft: copy-ready, no internal notice inside, the notice beside it
            _sign_in(page, "agent")
            page.get_by_role("link", name="Agent desk").click()
            page.get_by_label("Customer message").fill(
                "Hi, I was charged twice for my gym membership, can I get reimbursed through PerksPlus?"
            )
            page.get_by_role("button", name="Draft reply").click()
            draft_box = page.get_by_label("Edit the draft")
            draft_box.wait_for(timeout=ANSWER_MS)
            draft = draft_box.input_value()
            for internal in ("knowledge base", "closest sources", "not covered", "NOT_IN_SOURCES", "[hidden"):
                assert internal.lower() not in draft.lower(), draft
            expect(page.get_by_text("For you (not sent)")).to_be_visible()
            page.screenshot(path=ARTIFACTS / "05-agent-draft.png", full_page=True)
        finally:
            browser.close()
