"""What the asker sees of an answer, through the API: checked streaming with progress, customer
drafts that are safe to send, closest sources kept with the conversation, follow-ups after a
not-covered turn, sources that open (permission-checked, audited), and a Stop that stops the model."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.context import AppContext
from generation.backends.base import Generation
from generation.prompts import texts
from ingest.embedder import HashingEmbedder
from tests.api.conftest import Api, api_settings
from tests.api.test_routes import POLICY, _events, _setup_kb
from tests.servers import free_port, serve_in_thread

SAMPLE_PDF = Path(__file__).resolve().parents[2] / "samples" / "customer_service" / "PerksPlus.pdf"


class Scripted:
    """A fake model with a fixed reply; records what it was asked (condensing included)."""

    name = "scripted"

    def __init__(self, reply: str, delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        self.calls: list[list[dict[str, str]]] = []
        self.closed_early = threading.Event()

    def complete(self, messages, **kwargs) -> Generation:  # type: ignore[no-untyped-def]
        self.calls.append(messages)
        return Generation(
            messages[-1]["content"].split("Last question: ")[-1].split("\n")[0], 1, 1, 0, 0, "stop"
        )

    def stream(self, messages, **kwargs) -> Iterator[str]:  # type: ignore[no-untyped-def]
        self.calls.append(messages)
        words = self.reply.split(" ")
        finished = False
        try:
            for i, word in enumerate(words):
                time.sleep(self.delay)
                yield word if i == 0 else " " + word
            finished = True
        finally:
            if not finished:
                self.closed_early.set()

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _script(api: Api, reply: str, delay: float = 0.0) -> Scripted:
    model = Scripted(reply, delay)
    api.services.ctx.override(generator=model, condenser=model)
    return model


def test_draft_reply_not_covered_is_a_holding_reply_and_the_notice_stays_beside_it(api: Api) -> None:
    admin = api.user("root", "admin")
    _setup_kb(api, admin)
    agent = api.user("alex", "agent")
    _script(api, "Hi! Yes, we will refund both charges of your gym membership today [1]. Best regards, Alex")
    body = {"question": "I was charged twice for my gym membership, refund me?", "kbs": ["hr"],
            "mode": "draft_reply"}  # fmt: skip
    draft = api.client.post("/chat", headers=agent, json=body).json()
    assert draft["abstained"] and draft["answer"] == texts().holding_reply["friendly"]
    assert draft["notice"] and draft["notice"] not in draft["answer"]
    assert "refund" not in draft["answer"].lower() and "knowledge base" not in draft["answer"].lower()
    assert draft["unsupported_sentences"] and draft["closest_sources"][0]["snippet"]
    streamed = _events(api.client.post("/chat", headers=agent, json={**body, "stream": True}).text)
    assert not [e for e, _ in streamed if e == "sentence"]  # a draft is never shown half-written


def test_reopened_conversation_keeps_its_closest_sources_and_follow_up_ignores_the_abstention(
    api: Api,
) -> None:
    admin = api.user("root", "admin")
    _setup_kb(api, admin)
    emp = api.user("emp")
    model = _script(api, "The cafeteria serves pizza on Fridays [1].")
    first = api.client.post(
        "/chat", headers=emp, json={"question": "What about lunch?", "kbs": ["hr"]}
    ).json()
    assert first["abstained"] and first["closest_sources"]
    assert first["closest_sources"][0]["source"] == "leave.md" and first["closest_sources"][0]["snippet"]
    conv = first["conversation_id"]
    api.client.post("/chat", headers=emp, json={"question": "And on Fridays?", "conversation_id": conv})
    condense = next(m for m in model.calls if "Last question" in m[-1]["content"])
    assert "What about lunch?" in condense[-1]["content"]
    assert texts().abstain not in condense[-1]["content"]  # a not-covered turn says nothing of the topic
    thread = api.client.get(f"/conversations/{conv}", headers=emp).json()
    reopened = thread["messages"][1]["answer"]
    assert reopened["closest_sources"] == first["closest_sources"]


def test_original_file_opens_for_readers_only_and_is_audited(api: Api) -> None:
    admin = api.user("root", "admin")
    api.client.post(
        "/kbs", headers=admin, json={"name": "hr", "scenario": "employee", "read_groups": ["everyone"]}
    )
    api.services.accounts.create_group("hr-team")
    upload = api.upload(admin, "hr", {"leave.md": POLICY, "perks.pdf": SAMPLE_PDF.read_bytes()}, ["hr-team"])
    assert upload.status_code == 202
    api.run_jobs()
    docs = {d["source"]: d["id"] for d in api.client.get("/kbs/hr/documents", headers=admin).json()}
    insider = api.user("ina", "employee", ["hr-team"])
    outsider = api.user("otto", "employee")

    text = api.client.get(f"/documents/{docs['leave.md']}/file", headers=insider)
    assert text.status_code == 200 and text.content == POLICY
    assert text.headers["content-type"].startswith("text/plain")
    assert text.headers["content-security-policy"] == "sandbox"
    pdf = api.client.get(f"/documents/{docs['perks.pdf']}/file", headers=insider)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")

    denied = api.client.get(f"/documents/{docs['perks.pdf']}/file", headers=outsider)
    assert denied.status_code == 404 and "%PDF" not in denied.text
    assert api.client.get(f"/documents/{docs['perks.pdf']}/file").status_code == 401
    events = api.client.get("/audit?action=document.file", headers=admin).json()
    outcomes = {(e["actor"], e["outcome"]) for e in events}
    assert {("ina", "ok"), ("otto", "denied")} <= outcomes


def test_stop_cancels_the_answer_on_the_server(tmp_path: Path) -> None:
    """Closing the event stream (the UI's Stop button) stops the model at its next token."""
    settings = api_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    ctx = AppContext(settings)
    ctx.use_embedder(HashingEmbedder())
    app = create_app(settings, ctx, run_jobs=False)
    with TestClient(app) as client:
        api = Api(client, app.state.services)
        admin = api.user("root", "admin")
        _setup_kb(api, admin)
        model = _script(
            api, " ".join(["Employees get 25 days of paid vacation per year [1]."] * 40), delay=0.05
        )
    server, thread = serve_in_thread(app, port := free_port())
    try:
        body: dict[str, Any] = {"question": "How many vacation days?", "kbs": ["hr"], "stream": True}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=admin, timeout=30) as http:
            with http.stream("POST", "/chat", json=body) as response:
                for line in response.iter_lines():
                    if line.startswith("event: sentence"):
                        break  # the user saw the first checked sentence and pressed Stop
            assert model.closed_early.wait(10), "the model kept generating after the stream was closed"
            assert http.get("/conversations").json() == []  # a stopped answer is not saved
    finally:
        server.should_exit = True
        thread.join(15)
        ctx.db.dispose()
