"""Admin pages (AppTest against the live API): knowledge bases, upload with live job progress and
per-file failures, the document table and its actions, users and groups, feedback, evaluation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from streamlit.testing.v1 import AppTest

from app.ui.client import ApiError
from app.ui.uploads import parse_tags, submit_upload
from tests.ui.conftest import KB, PERKS_QUESTION, LiveApi, app_as

ADMIN_KB = "admin-tests"
GOOD = b"# Parking policy\n\nEmployees park in garage B. Visitors use the front lot.\n"


@pytest.fixture(scope="module")
def admin_kb(live_api: LiveApi) -> Iterator[str]:
    admin = live_api.client("admin")
    admin.create_kb(ADMIN_KB, "employee", "Scratch base for the admin page tests", ["everyone"])
    yield ADMIN_KB
    admin.delete_kb(ADMIN_KB)


def clean(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def run_until(at: AppTest, done: Callable[[AppTest], bool], timeout: float = 60) -> AppTest:
    """Rerun (what the page's 1 s polling fragment does in a browser) until ``done``."""
    deadline = time.monotonic() + timeout
    while not done(at):
        assert not at.exception, at.exception
        assert time.monotonic() < deadline, "the page never got there"
        time.sleep(0.2)
        at.run()
    return at


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def widget(widgets, label: str):  # type: ignore[no-untyped-def]
    return next(w for w in widgets if w.label == label)


def test_create_edit_and_delete_a_knowledge_base(ui_env: LiveApi) -> None:
    at = clean(app_as(ui_env, "admin", "views/admin_kbs.py"))
    widget(at.text_input, "Name").set_value("ui-created")
    widget(at.text_area, "Description").set_value("Made by the UI test")
    widget(at.multiselect, "Groups that may read it").set_value(["support"])
    widget(at.checkbox, "Read text in scanned pages and images (OCR)").uncheck()
    button(at, "Create").click().run()
    clean(at)
    assert any("Created knowledge base ui-created" in s.value for s in at.success)
    created = {kb["name"]: kb for kb in ui_env.client("admin").kbs()}["ui-created"]
    assert created["read_groups"] == ["support"] and created["description"] == "Made by the UI test"
    assert created["ocr"] is False
    assert not any(kb["name"] == "ui-created" for kb in ui_env.client("employee").kbs())

    at.selectbox(key="kb_edit_pick").select("ui-created").run()
    at.multiselect[-1].set_value(["everyone"])  # the edit form's (the create form's comes first)
    at.checkbox(key="kb_ocr_ui-created").check()
    button(at, "Save changes").click().run()
    clean(at)
    edited = {kb["name"]: kb for kb in ui_env.client("employee").kbs()}
    assert "ui-created" in edited and edited["ui-created"]["ocr"] is True

    at.checkbox(key="kb_delete_confirm_ui-created").check().run()
    button(at, "Delete knowledge base").click().run()
    clean(at)
    assert "ui-created" not in {kb["name"] for kb in ui_env.client("admin").kbs()}


def test_duplicate_knowledge_base_is_an_actionable_error(ui_env: LiveApi) -> None:
    at = clean(app_as(ui_env, "admin", "views/admin_kbs.py"))
    widget(at.text_input, "Name").set_value(KB)
    button(at, "Create").click().run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith("Creating the knowledge base failed: ")
    assert KB in at.error[0].value


def test_upload_several_files_and_watch_the_job(ui_env: LiveApi, admin_kb: str) -> None:
    at = clean(app_as(ui_env, "admin", "views/admin_upload.py"))
    at.selectbox(key="upload_kb").select(admin_kb)
    at.file_uploader[0].set_value(
        [
            ("parking.md", GOOD, "text/markdown"),
            ("broken.pdf", b"this is not a PDF at all", "application/pdf"),
        ]
    )
    at.run()
    button(at, "Upload and ingest").click().run()
    assert not at.exception
    job_id = at.session_state["tracked_jobs"][0]
    run_until(at, lambda at: at.session_state["tracked_jobs_status"].get(job_id) in ("partial", "failed"))
    at.run()  # what the fragment's final full rerun shows
    errors = [e.value for e in at.error]
    assert any(e.startswith("Partial: added 1") for e in errors), errors
    assert any(e.startswith("broken.pdf: ") and len(e) > len("broken.pdf: ") for e in errors), errors
    table = at.dataframe[0].value
    assert sorted(table["file"]) == ["broken.pdf", "parking.md"]
    assert dict(zip(table["file"], table["outcome"], strict=True))["parking.md"] == "added"
    assert not at.file_uploader[0].value  # a fresh uploader for the next batch
    job = ui_env.client("admin").job(job_id)
    assert (job["status"], job["processed_files"], job["total_files"]) == ("partial", 2, 2)


def test_job_progress_while_running_and_when_done() -> None:
    def page() -> None:
        from app.ui.render import render_job

        base = {"id": "0123456789", "kb": "hr", "added": 1, "updated": 0, "unchanged": 0, "deleted": 0}
        render_job(
            {
                **base,
                "status": "running",
                "total_files": 4,
                "processed_files": 1,
                "failed": 0,
                "chunks": 3,
                "results": [{"path": "/u/a.md", "outcome": "added", "chunks": 3}],
            }
        )
        render_job(
            {
                **base,
                "status": "succeeded",
                "total_files": 1,
                "processed_files": 1,
                "failed": 0,
                "chunks": 3,
                "results": [],
            }
        )

    at = AppTest.from_function(page).run()
    assert not at.exception
    bars = at.get("progress")
    assert [b.proto.value for b in bars] == [25, 100]
    assert bars[0].proto.text == "hr · job 01234567 · running · 1/4 files"
    assert any(c.value.startswith("Running… added 1") for c in at.caption)
    assert at.success[0].value.startswith("Finished: added 1")


def test_rejected_upload_shows_the_api_reason(ui_env: LiveApi, admin_kb: str) -> None:
    with pytest.raises(ApiError) as caught:
        submit_upload(ui_env.client("admin"), admin_kb, [_File("tool.exe", b"MZ")])
    assert caught.value.status == 415 and caught.value.detail

    at = clean(app_as(ui_env, "admin", "views/admin_upload.py"))
    at.selectbox(key="upload_kb").select(admin_kb)
    at.file_uploader[0].set_value(("tool.exe", b"MZ", "application/octet-stream"))
    at.run()
    button(at, "Upload and ingest").click().run()
    assert not at.exception
    assert at.error[0].value == f"Upload failed: {caught.value.detail}"


class _File:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def test_submit_upload_sends_groups_and_tags(ui_env: LiveApi, admin_kb: str) -> None:
    assert parse_tags(" travel, hr,,travel ") == ["hr", "travel"]
    job_id = submit_upload(
        ui_env.client("admin"),
        admin_kb,
        [_File("travel.md", b"# Travel\n\nBook trains.\n")],
        ["support"],
        "travel",
    )
    assert ui_env.wait_for_job(job_id)["status"] == "succeeded"
    doc = next(d for d in ui_env.client("admin").documents(admin_kb) if d["source"] == "travel.md")
    assert (doc["access_groups"], doc["tags"]) == (["support"], ["travel"])


def test_documents_table_and_actions(ui_env: LiveApi, admin_kb: str) -> None:
    admin = ui_env.client("admin")
    job = ui_env.wait_for_job(admin.upload(admin_kb, [("rules.md", b"# Rules\n\nBe kind.\n")])["job_id"])
    assert job["status"] == "succeeded"
    at = app_as(ui_env, "admin", "views/admin_documents.py")
    at.selectbox(key="docs_kb").select(admin_kb).run()
    assert not at.exception
    # documents that failed to ingest (the upload test's broken.pdf) are listed with their reason
    assert all(e.value.startswith("broken.pdf (failed): not a PDF") for e in at.error)
    table = at.dataframe[0].value
    assert "rules.md" in list(table["source"])
    assert set(table.columns) >= {"title", "status", "chunks", "groups", "error"}
    doc = next(d for d in admin.documents(admin_kb) if d["source"] == "rules.md")

    at.selectbox(key="docs_pick").set_value(doc["id"]).run()
    at.multiselect(key=f"doc_groups_{doc['id']}").set_value(["support"])
    button(at, "Save groups").click().run()
    assert not at.exception and any("Saved the groups of rules.md" in s.value for s in at.success)
    assert admin.documents(admin_kb) and next(d for d in admin.documents(admin_kb) if d["id"] == doc["id"])[
        "access_groups"
    ] == ["support"]

    button(at, "Re-ingest").click().run()
    assert not at.exception
    job_id = at.session_state["tracked_jobs"][0]
    run_until(at, lambda at: at.session_state["tracked_jobs_status"].get(job_id) == "succeeded")

    at.checkbox(key=f"doc_delete_confirm_{doc['id']}").check().run()
    button(at, "Delete").click().run()
    assert not at.exception and any("Deleted rules.md" in s.value for s in at.success)
    assert doc["id"] not in {d["id"] for d in admin.documents(admin_kb)}


def test_document_facts_shown_and_corrected(ui_env: LiveApi, admin_kb: str) -> None:
    admin = ui_env.client("admin")
    sheet = b"# Folding wagon\n\nAmazon ASIN: B0TESTWAGN. Category: toys & games.\n\nSturdy steel frame.\n"
    job = ui_env.wait_for_job(admin.upload(admin_kb, [("wagon.md", sheet)])["job_id"])
    assert job["status"] == "succeeded"
    at = app_as(ui_env, "admin", "views/admin_documents.py")
    at.selectbox(key="docs_kb").select(admin_kb).run()
    table = at.dataframe[0].value
    row = table[table["source"] == "wagon.md"].iloc[0]
    assert "Folding wagon" in row["facts"] and "B0TESTWAGN" in row["facts"]
    doc = next(d for d in admin.documents(admin_kb) if d["source"] == "wagon.md")
    at.selectbox(key="docs_pick").set_value(doc["id"]).run()
    assert at.text_input(key=f"fact_product_id_{doc['id']}").value == "B0TESTWAGN"
    at.text_input(key=f"fact_brand_{doc['id']}").set_value("Mac Sports")
    at.text_input(key=f"fact_category_{doc['id']}").set_value("")
    button(at, "Save facts").click().run()
    assert not at.exception and any("Saved the facts of wagon.md" in s.value for s in at.success)
    saved = admin.document_facts(doc["id"])
    assert saved["facts"]["brand"] == "Mac Sports" and "category" not in saved["facts"]
    assert saved["sources"]["brand"] == "admin"
    at.text_input(key=f"fact_fiscal_year_{doc['id']}").set_value("soon")
    button(at, "Save facts").click().run()
    assert not at.exception and at.error  # the API's reason, shown to the admin
    admin.delete_document(doc["id"])


def test_users_and_groups(ui_env: LiveApi) -> None:
    at = clean(app_as(ui_env, "admin", "views/admin_users.py"))
    assert {"admin", "agent", "employee"} <= set(at.dataframe[0].value["username"])
    widget(at.text_input, "New group").set_value("auditors")
    button(at, "Create group").click().run()
    clean(at)
    widget(at.text_input, "Username").set_value("newbie")
    widget(at.text_input, "Initial password").set_value("a long enough password")
    widget(at.selectbox, "Role").set_value("agent")  # the create form's
    widget(at.multiselect, "Groups").set_value(["auditors"])
    button(at, "Create user").click().run()
    clean(at)
    users = {u["username"]: u for u in ui_env.client("admin").users()}
    assert (users["newbie"]["role"], users["newbie"]["groups"]) == ("agent", ["auditors"])

    at.selectbox(key="user_pick").set_value(users["newbie"]["id"]).run()
    widget(at.checkbox, "Disabled (cannot sign in)").check()
    button(at, "Save user").click().run()
    clean(at)
    assert (
        ui_env.client("admin").users()
        and {u["username"]: u for u in ui_env.client("admin").users()}["newbie"]["disabled"]
    )


def test_feedback_review(ui_env: LiveApi) -> None:
    employee = ui_env.client("employee")
    answer = employee.chat(PERKS_QUESTION, [KB])
    employee.send_feedback(answer["message_id"], "down", "needs the claim deadline")
    at = clean(app_as(ui_env, "admin", "views/admin_feedback.py"))
    assert at.metric[0].value and int(at.metric[2].value) >= 1
    table = at.dataframe[0].value
    assert "needs the claim deadline" in list(table["comment"])
    assert any(e.label.startswith("👎 employee: ") for e in at.expander)


def test_evaluation_chart_and_table(ui_env: LiveApi) -> None:
    at = clean(app_as(ui_env, "admin", "views/admin_eval.py"))
    at.selectbox(key="eval_kb").select(KB)
    at.radio(key="eval_kind").set_value("retrieval")
    lines = [
        {"query": PERKS_QUESTION, "relevant": ["perksplus.md"]},
        {"query": "How do I claim my receipts?", "relevant": ["perksplus.md"]},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    at.file_uploader[0].set_value(("qa.jsonl", data, "application/x-ndjson"))
    at.run()
    button(at, "Run evaluation").click().run()
    clean(at)
    result = at.session_state["eval_result"]
    assert result["kind"] == "retrieval" and result["summary"]["hit@1"] == 1.0
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    table = at.dataframe[0].value
    assert list(table["query"]) == [PERKS_QUESTION, "How do I claim my receipts?"]


def test_bad_evaluation_file_is_explained(ui_env: LiveApi) -> None:
    at = clean(app_as(ui_env, "admin", "views/admin_eval.py"))
    at.selectbox(key="eval_kb").select(KB)
    at.file_uploader[0].set_value(("qa.jsonl", b"{not json", "application/x-ndjson"))
    at.run()
    button(at, "Run evaluation").click().run()
    assert not at.exception
    assert at.error and "line 1" in at.error[0].value


def test_audit_log_lists_sign_ins(ui_env: LiveApi) -> None:
    at = clean(app_as(ui_env, "admin", "views/admin_audit.py"))
    at.text_input(key="audit_action").set_value("auth.login").run()
    clean(at)
    table = at.dataframe[0].value
    assert set(table["action"]) == {"auth.login"} and "admin" in set(table["actor"])
