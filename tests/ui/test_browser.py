"""A real browser against the real UI and API on 127.0.0.1: Debian Chromium driven by Playwright.

The employee asks a question and sees the answer stream in, then opens a citation's snippet; the
admin uploads a file through the file uploader and watches its job finish. Screenshots go to
test-artifacts/ui/ at the repository root."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port, stop, wait_until_up
from tests.ui.conftest import PASSWORD, PERKS_ANSWER_PART, PERKS_QUESTION, LiveApi

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium not installed (apt-get install chromium)"
    ),
]

# Records, in the page, whether a partly streamed answer (ending in the typing cursor) was ever shown.
# The answer is live before it is final: a checked sentence with the typing cursor, or (while the
# model reads the sources) the elapsed time with the Stop button. Streamlit may deliver the cursor
# and the final text in one batch on a loaded machine, so either counts.
WATCH_STREAM = """() => {
  window.__streamed = false;
  new MutationObserver(() => {
    const main = document.querySelector('[data-testid="stMain"]') || document.body;
    const stop = [...main.querySelectorAll('button')].some((b) => b.innerText.includes('Stop'));
    if (main.innerText.includes('\u258c') || stop) window.__streamed = true;
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def ui_url(live_api: LiveApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``kb ui`` in a subprocess on a free port, talking to the live API."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("ui") / "ui.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "ui", "--host", "127.0.0.1", "--port", str(port)]
            + ["--api-url", live_api.url],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/_stcore/health", proc, log_path, seconds=90)
            yield url
        finally:
            stop(proc)


def _sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for(timeout=TIMEOUT_MS)


def test_employee_asks_and_admin_uploads(ui_url: str, live_api: LiveApi, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    upload = tmp_path / "dress-code.md"
    upload.write_text("# Dress code\n\nBusiness casual on weekdays; jeans are fine on Fridays.\n")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(ui_url)

            # --- the employee asks one question and opens a citation
            _sign_in(page, "employee")
            chat_box = page.get_by_placeholder("Ask a question about the knowledge base…")
            expect(chat_box).to_be_visible()
            expect(page.get_by_role("button", name="Wht does PerksPlus cover?")).to_be_visible()
            page.screenshot(path=ARTIFACTS / "01-employee-chat-signed-in.png", full_page=True)

            page.evaluate(WATCH_STREAM)
            chat_box.fill(PERKS_QUESTION)
            chat_box.press("Enter")
            citation = page.locator('[data-testid="stExpander"] summary').filter(has_text="[1] PerksPlus")
            expect(citation.first).to_be_visible()
            assert page.evaluate("window.__streamed"), "the answer was never shown live before it was final"
            main = page.get_by_role("main")
            expect(main.get_by_text(PERKS_ANSWER_PART).first).to_be_visible()
            snippet = page.locator('[data-testid="stExpander"] blockquote').filter(has_text=PERKS_ANSWER_PART)
            expect(snippet.first).to_be_hidden()
            citation.first.click()
            expect(snippet.first).to_be_visible()
            expect(snippet.first).to_be_in_viewport(ratio=1.0)  # the expand animation has finished
            page.screenshot(path=ARTIFACTS / "02-employee-answer-citation-open.png", full_page=True)

            # --- sign out, the admin uploads a file and watches the job finish
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("textbox", name="Username")).to_be_visible()
            _sign_in(page, "admin")
            page.get_by_role("link", name="Upload").click()
            expect(page.get_by_role("heading", name="Upload documents")).to_be_visible()
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
            expect(page.get_by_text("dress-code.md").first).to_be_visible()
            page.get_by_role("button", name="Upload and ingest").click()
            expect(page.get_by_text("Finished: added 1").first).to_be_visible(timeout=60_000)
            expect(page.get_by_role("progressbar").first).to_be_visible()
            page.locator('[data-testid="stDataFrame"]').first.wait_for()  # the per-file results
            page.screenshot(path=ARTIFACTS / "03-admin-upload-job-finished.png", full_page=True)

            page.get_by_role("link", name="Documents").click()
            expect(page.get_by_role("heading", name="Documents")).to_be_visible()
            page.locator('[data-testid="stDataFrame"]').first.wait_for()
            page.screenshot(path=ARTIFACTS / "04-admin-documents.png", full_page=True)
        finally:
            browser.close()
    assert "dress-code.md" in {d["source"] for d in live_api.client("admin").documents("handbook")}
