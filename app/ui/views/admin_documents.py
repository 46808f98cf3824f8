"""Admin · documents: status, chunks, groups, facts and errors per document; delete, re-ingest,
regroup, correct facts."""

from typing import Any

import streamlit as st

from app.ui.facts_form import facts_editor, summary
from app.ui.i18n import t
from app.ui.render import job_monitor
from app.ui.session import api_errors, client, flash, require_role
from app.ui.uploads import TRACKED_JOBS, track_job

require_role("admin")
api = client()
st.title(t("Documents"))

kbs: list[dict[str, Any]] = []
group_names: list[str] = []
with api_errors(t("Loading knowledge bases")):
    kbs = api.kbs()
    group_names = [g["name"] for g in api.groups() if g["name"] != "everyone"]
if not kbs:
    st.info(t("Create a knowledge base first (Admin · Knowledge bases)."))
    st.stop()


def _haystack(doc: dict[str, Any]) -> str:
    """What the search box matches against, lower-cased."""
    fields = [doc["title"], doc["source"], doc["status"], doc["format"], doc.get("error") or ""]
    return " ".join([*fields, *doc["access_groups"], *doc["tags"]]).lower()


kb_name = st.selectbox(t("Knowledge base"), [kb["name"] for kb in kbs], key="docs_kb")
docs: list[dict[str, Any]] = []
with api_errors(t("Loading documents")):
    docs = api.documents(kb_name)

if not docs:
    st.info(t("No documents in this knowledge base yet: upload some on the Upload page."))
else:
    needle = (
        st.text_input(
            t("Search documents"),
            key="docs_search",
            placeholder=t("Title, file name, status, group or error…"),
        )
        .strip()
        .lower()
    )
    if needle:
        docs = [d for d in docs if needle in _haystack(d)]
        st.caption(t("{count} matching document(s)", count=len(docs)))
if docs:
    st.dataframe(
        [
            {
                "title": d["title"],
                "source": d["source"],
                "format": d["format"],
                "status": d["status"],
                "chunks": d["chunk_count"],
                "pages": d["page_count"],
                "groups": ", ".join(d["access_groups"]) or "all readers",
                "tags": ", ".join(d["tags"]),
                "facts": summary(d.get("facts") or {}),
                "KiB": round(d["size_bytes"] / 1024, 1),
                "updated": str(d["updated_at"])[:19].replace("T", " "),
                "error": d["error"] or "",
            }
            for d in docs
        ],
        hide_index=True,
        use_container_width=True,
    )
    for d in docs:
        if d["error"]:
            st.error(f"{d['source']} ({d['status']}): {d['error']}")

    st.subheader(t("Manage a document"))
    by_id = {d["id"]: d for d in docs}
    doc_id = st.selectbox(
        t("Document"),
        list(by_id),
        format_func=lambda i: f"{by_id[i]['title']} — {by_id[i]['source']}",
        key="docs_pick",
    )
    doc = by_id[doc_id]
    groups = st.multiselect(
        t("Only these groups may read it (empty: everyone who can read the base)"),
        sorted(set(group_names) | set(doc["access_groups"])),
        default=doc["access_groups"],
        key=f"doc_groups_{doc_id}",
    )
    save, reingest, delete = st.columns(3)
    if save.button(t("Save groups"), key="doc_save", use_container_width=True):
        with api_errors(t("Saving groups")):
            api.update_document(doc_id, groups)
            flash(t("Saved the groups of {source}.", source=doc["source"]))
            st.rerun()
    if reingest.button(t("Re-ingest"), key="doc_reingest", use_container_width=True):
        with api_errors(t("Re-ingest")):
            track_job(api.reingest(doc_id))
            st.rerun()
    confirm = delete.checkbox("Confirm delete", key=f"doc_delete_confirm_{doc_id}")
    if delete.button(t("Delete"), key="doc_delete", disabled=not confirm, use_container_width=True):
        with api_errors(t("Deleting")):
            api.delete_document(doc_id)
            flash(t("Deleted {source}.", source=doc["source"]))
            st.rerun()

    with st.expander(t("Facts: company, period, product (used to route questions)"), expanded=False):
        current: dict[str, Any] = {"facts": {}, "sources": {}}
        with api_errors(t("Loading facts")):
            current = api.document_facts(doc_id)
        edits = facts_editor(doc_id, current["facts"], current["sources"])
        if edits is not None:
            if not edits:
                st.info(t("Nothing changed."))
            else:
                with api_errors(t("Saving facts")):
                    api.update_document_facts(doc_id, edits)
                    flash(t("Saved the facts of {source}.", source=doc["source"]))
                    st.rerun()

st.subheader(t("Ingestion jobs"))
job_monitor(client, TRACKED_JOBS)
if not st.session_state.get(TRACKED_JOBS):
    st.caption(t("Jobs you start here or on the Upload page appear here."))
