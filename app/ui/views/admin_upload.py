"""Admin · upload: send several files to a knowledge base and watch each ingestion job live."""

from typing import Any

import streamlit as st

from app.ui.i18n import t
from app.ui.render import job_label, job_monitor
from app.ui.session import api_errors, client, require_role
from app.ui.uploads import ACCEPTED_TYPES, TRACKED_JOBS, submit_upload, track_job

require_role("admin")
api = client()
st.title(t("Upload documents"))

kbs: list[dict[str, Any]] = []
group_names: list[str] = []
with api_errors(t("Loading knowledge bases")):
    kbs = api.kbs()
    group_names = [g["name"] for g in api.groups()]
if not kbs:
    st.info(t("Create a knowledge base first (Admin · Knowledge bases)."))
    st.stop()

uploader_round = st.session_state.setdefault("uploader_round", 0)
kb_name = st.selectbox(t("Knowledge base"), [kb["name"] for kb in kbs], key="upload_kb")
files = st.file_uploader(
    t(
        "Files: PDF (scanned too), Word, Excel, PowerPoint, e-mail (.eml), images and scans (PNG, JPEG, "
        "TIFF), HTML, Markdown, text, CSV, JSON, legacy Office (.doc, .xls, .ppt, .rtf, OpenDocument)"
    ),
    type=ACCEPTED_TYPES,
    accept_multiple_files=True,
    key=f"uploader_{uploader_round}",
)
with st.expander(t("Access and tags")):
    groups = st.multiselect(
        t("Only these groups may read the files (empty: everyone who can read the base)"),
        [g for g in group_names if g != "everyone"],
        key="upload_groups",
    )
    tags = st.text_input(t("Tags, comma separated"), key="upload_tags", placeholder=t("e.g. benefits, 2024"))

if st.button(t("Upload and ingest"), type="primary", disabled=not files, key="upload_go"):
    with st.spinner(t("Uploading {count} file(s)…", count=len(files or []))), api_errors(t("Upload")):
        job_id = submit_upload(api, kb_name, files or [], groups, tags)
        track_job(job_id)
        st.session_state["uploader_round"] = uploader_round + 1  # a fresh, empty uploader
        st.rerun()

st.subheader(t("Ingestion jobs"))
job_monitor(client, TRACKED_JOBS)

with st.expander(t("Recent jobs")), api_errors(t("Loading jobs")):
    recent = api.jobs(limit=20)
    if not recent:
        st.caption(t("No jobs yet."))
    for job in recent:
        st.button(job_label(job), key=f"track_{job['id']}", on_click=track_job, args=(job["id"],))

with api_errors("Loading jobs that gave up"):
    dead = api.jobs(limit=50, status="dead")
if dead:
    st.subheader(f"Jobs that gave up ({len(dead)})")
    st.caption("Each was started 3 times and never finished (worker killed, out of memory, storage lost).")
    for job in dead:
        st.error(f"{job_label(job)} · {job.get('kind', 'ingest')} · last worker {job.get('worker') or '?'}")
        st.caption(job.get("error") or "")
        if st.button("Retry", key=f"retry_{job['id']}"):
            with api_errors("Retry"):
                api.retry_job(job["id"])
                track_job(job["id"])
                st.rerun()
