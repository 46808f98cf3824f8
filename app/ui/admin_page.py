"""Admin: knowledge bases and who reads them, uploads with live job progress, documents, users and
groups, feedback review, evaluation runs and the audit log."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from app.ui.client import ApiClient
from app.ui.common import attempt, client

SCENARIOS = ["employee", "customer_service", "finance", "retail"]
ROLES = ["employee", "agent", "admin"]
RUNNING = ("queued", "running")


def upload_files(api: ApiClient, kb: str, files: list[tuple[str, bytes]], groups: list[str]) -> str | None:
    """Upload and remember the job so the progress panel follows it; the job id, or None."""
    result = attempt(lambda: api.upload(kb, files, groups), what="Upload refused")
    if not result:
        return None
    st.session_state.setdefault("jobs", []).insert(0, result["job_id"])
    return str(result["job_id"])


def job_panel(api: ApiClient, job_id: str) -> dict[str, Any] | None:
    """One job: a progress bar, its status and each file's outcome (failures with their reason)."""
    job = attempt(lambda: api.job(job_id))
    if not job:
        return None
    total = max(job["total_files"], 1)
    done = job["processed_files"] if job["status"] in RUNNING else total
    files = f"{done}/{job['total_files']} files, {job['chunks']} chunks"
    label = f"{job['kb']} · job {job_id[:8]} · {job['status']} · {files}"
    st.progress(min(done / total, 1.0), text=label)
    if job.get("error"):
        (st.error if job["status"] == "failed" else st.info)(job["error"])
    failed = [r for r in job["results"] if r["outcome"] == "failed"]
    for row in failed:
        st.error(f"{row['path']}: {row['error']}", icon="📄")
    if job["results"]:
        st.dataframe(
            [
                {
                    "file": r["path"],
                    "outcome": r["outcome"],
                    "chunks": r.get("chunks", 0),
                    "error": r.get("error") or "",
                }
                for r in job["results"]
            ],
            hide_index=True,
            width="stretch",
        )
    return job


@st.fragment(run_every=1.5)
def jobs_progress() -> None:
    """Refreshes by itself while a job runs (the rest of the page stays put)."""
    api = client()
    for job_id in st.session_state.get("jobs", [])[:5]:
        job_panel(api, job_id)


def _groups(api: ApiClient) -> list[str]:
    return [g["name"] for g in attempt(lambda: api.groups()) or []]


def knowledge_bases_tab(api: ApiClient) -> None:
    kbs = attempt(lambda: api.kbs()) or []
    if kbs:
        st.dataframe(
            [
                {k: kb[k] for k in ("name", "scenario", "read_groups", "documents", "chunks", "description")}
                for kb in kbs
            ],
            hide_index=True,
            width="stretch",
        )
    groups = ["everyone", *_groups(api)]
    with st.form("create_kb", clear_on_submit=True):
        st.subheader("New knowledge base")
        cols = st.columns(2)
        name = cols[0].text_input("Name", placeholder="e.g. hr-policies", key="new_kb_name")
        scenario = cols[1].selectbox("Scenario", SCENARIOS)
        description = st.text_input("Description")
        readers = st.multiselect(
            "Who may read it", groups, default=["everyone"], help="'everyone' = every signed-in user"
        )
        if st.form_submit_button("Create") and attempt(
            lambda: api.create_kb(name, scenario, description, readers), what="Not created"
        ):
            st.success(f"Created {name}.")
            st.rerun()
    if not kbs:
        return
    st.subheader("Change or delete")
    names = [kb["name"] for kb in kbs]
    target = st.selectbox("Knowledge base", names, key="kb_edit")
    current = next(kb for kb in kbs if kb["name"] == target)
    readers = st.multiselect(
        "Readers", groups, default=[g for g in current["read_groups"] if g in groups], key=f"readers-{target}"
    )
    if st.button("Save readers") and attempt(lambda: api.update_kb(target, read_groups=readers)):
        st.success("Saved.")
    confirm = st.checkbox(f"Yes, delete {target} and all its documents", key=f"confirm-{target}")
    if (
        st.button("Delete knowledge base", disabled=not confirm)
        and attempt(lambda: api.delete_kb(target)) is None
    ):
        st.rerun()


def upload_tab(api: ApiClient) -> None:
    kbs = [kb["name"] for kb in attempt(lambda: api.kbs()) or []]
    if not kbs:
        st.info("Create a knowledge base first.")
        return
    kb = st.selectbox("Into knowledge base", kbs, key="upload_kb")
    files = st.file_uploader(
        "Files (PDF, DOCX, XLSX, HTML, Markdown, TXT, CSV, JSON)", accept_multiple_files=True
    )
    groups = st.multiselect(
        "Only these groups may read them (empty: everyone who reads the base)", _groups(api)
    )
    if st.button("Upload and ingest", type="primary", disabled=not files):
        job_id = upload_files(api, kb, [(f.name, f.getvalue()) for f in files or []], groups)
        if job_id:
            st.success(f"Uploaded {len(files or [])} file(s); ingestion job {job_id[:8]} started.")
    jobs_progress()


def documents_tab(api: ApiClient) -> None:
    kbs = [kb["name"] for kb in attempt(lambda: api.kbs()) or []]
    if not kbs:
        return
    kb = st.selectbox("Knowledge base", kbs, key="docs_kb")
    docs = attempt(lambda: api.documents(kb)) or []
    if not docs:
        st.info("No documents yet.")
        return
    st.dataframe(
        [
            {k: d[k] for k in ("source", "status", "chunk_count", "page_count", "access_groups", "error")}
            for d in docs
        ],
        hide_index=True,
        width="stretch",
    )
    by_source = {d["source"]: d for d in docs}
    source = st.selectbox("Document", list(by_source), key="doc_pick")
    doc = by_source[source]
    groups = st.multiselect(
        "Access groups (empty: everyone who reads the base)",
        _groups(api),
        default=doc["access_groups"],
        key=f"g-{doc['id']}",
    )
    cols = st.columns(3)
    if cols[0].button("Save groups") and attempt(lambda: api.set_document_groups(doc["id"], groups)):
        st.success("Saved; searches use the new groups at once.")
    if cols[1].button("Re-ingest"):
        result = attempt(lambda: api.reingest(doc["id"]))
        if result:
            st.session_state.setdefault("jobs", []).insert(0, result["job_id"])
            st.success("Re-ingest started; follow it on the Upload tab.")
    if cols[2].button("Delete document") and attempt(lambda: api.delete_document(doc["id"])) is None:
        st.rerun()


def users_tab(api: ApiClient) -> None:
    users = attempt(lambda: api.users()) or []
    st.dataframe(
        [{k: u[k] for k in ("username", "role", "groups", "disabled")} for u in users],
        hide_index=True,
        width="stretch",
    )
    groups = _groups(api)
    with st.form("create_user", clear_on_submit=True):
        st.subheader("New user")
        cols = st.columns(3)
        username = cols[0].text_input("Username", key="new_user_name")
        password = cols[1].text_input("Password (10+ characters)", type="password", key="new_user_password")
        role = cols[2].selectbox("Role", ROLES, key="new_user_role")
        member_of = st.multiselect("Groups", groups, key="new_user_groups")
        if st.form_submit_button("Create user") and attempt(
            lambda: api.create_user(username, password, role, member_of), what="Not created"
        ):
            st.success(f"Created {username}.")
            st.rerun()
    with st.form("create_group", clear_on_submit=True):
        name = st.text_input("New group", key="new_group")
        if st.form_submit_button("Create group") and attempt(lambda: api.create_group(name)):
            st.rerun()
    if users:
        st.subheader("Change a user")
        by_name = {u["username"]: u for u in users}
        who = st.selectbox("User", list(by_name), key="user_pick")
        user = by_name[who]
        role = st.selectbox("Role", ROLES, index=ROLES.index(user["role"]), key=f"role-{who}")
        member_of = st.multiselect(
            "Groups", groups, default=[g for g in user["groups"] if g in groups], key=f"groups-{who}"
        )
        disabled = st.checkbox("Disabled", value=user["disabled"], key=f"disabled-{who}")
        if st.button("Save user") and attempt(
            lambda: api.update_user(user["id"], role=role, groups=member_of, disabled=disabled)
        ):
            st.success("Saved.")


def feedback_tab(api: ApiClient) -> None:
    rows = attempt(lambda: api.feedback_list()) or []
    if not rows:
        st.info("No feedback yet.")
        return
    for row in rows:
        icon = "👍" if row["rating"] == "up" else "👎"
        with st.expander(f"{icon} {row['username']}: {row['question'][:90]}"):
            st.markdown(f"**Answer:** {row['answer']}")
            if row["comment"]:
                st.markdown(f"**Comment:** {row['comment']}")
            for cite in row["citations"]:
                st.caption(
                    f"[{cite['n']}] {cite['source']} p.{cite.get('page') or '-'}: {cite['snippet'][:200]}"
                )


def evaluation_tab(api: ApiClient) -> None:
    kbs = [kb["name"] for kb in attempt(lambda: api.kbs()) or []]
    if not kbs:
        return
    cols = st.columns(3)
    kb = cols[0].selectbox("Knowledge base", kbs, key="eval_kb")
    kind = cols[1].radio("Evaluate", ["answers", "retrieval"], horizontal=True)
    limit = cols[2].number_input("Questions (max)", 1, 50, 10)
    st.caption(
        "JSONL, one object per line: answers → `{question, answer}` (answer null = unanswerable); "
        "retrieval → `{query, relevant: [file names]}`"
    )
    upload = st.file_uploader("Q&A file", type=["jsonl", "json"], key="eval_file")
    if st.button("Run evaluation", disabled=upload is None) and upload is not None:
        with st.spinner("Asking every question (answers take a few seconds each on CPU)…"):
            result = attempt(
                lambda: api.evaluate(kb, kind, upload.getvalue(), int(limit)), what="Evaluation failed"
            )
        if result:
            st.session_state.eval_result = result
    show_evaluation(st.session_state.get("eval_result"))


def show_evaluation(result: dict[str, Any] | None) -> None:
    if not result:
        return
    summary = result["summary"]
    rates = {k: v for k, v in summary.items() if isinstance(v, int | float) and 0 <= v <= 1 and "ms" not in k}
    if rates:
        st.bar_chart(rates, horizontal=True)
    st.dataframe([{"metric": k, "value": v} for k, v in summary.items()], hide_index=True)
    st.dataframe(
        [
            {k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in row.items()}
            for row in result["per_question"]
        ],
        width="stretch",
    )


def audit_tab(api: ApiClient) -> None:
    events = attempt(lambda: api.audit(200)) or []
    st.dataframe([{**e, "detail": json.dumps(e["detail"])} for e in events], hide_index=True, width="stretch")


def render() -> None:
    st.header("Admin")
    api = client()
    tabs = st.tabs(
        ["Knowledge bases", "Upload", "Documents", "Users & groups", "Feedback", "Evaluation", "Audit log"]
    )
    for tab, body in zip(
        tabs,
        (knowledge_bases_tab, upload_tab, documents_tab, users_tab, feedback_tab, evaluation_tab, audit_tab),
        strict=True,
    ):
        with tab:
            body(api)
