"""Admin · knowledge bases: create, describe, choose which groups may read each one, delete."""

from typing import Any

import streamlit as st

from app.ui.examples import SCENARIO_LABELS, SCENARIOS
from app.ui.session import api_errors, client, flash, require_role

OCR_LABEL = "Read text in scanned pages and images (OCR)"
OCR_HELP = (
    "Scanned PDFs, photos of documents, TIFF faxes and the labels of charts in PDFs and slides are "
    "read by OCR while ingesting. It is slow without a GPU (a few seconds a page); turn it off to "
    "skip such files. Applies to the next uploads."
)

# "" = whatever the server's KB_BACKEND says.
BACKENDS = ["", "faiss", "postgres", "milvus"]
BACKEND_LABELS = {
    "": "server default",
    "faiss": "faiss — embedded files on the API host",
    "postgres": "postgres — pgvector in the SQL database (shared by replicas)",
    "milvus": "milvus — a Milvus server or cluster",
}

require_role("admin")
api = client()
st.title("Knowledge bases")

kbs: list[dict[str, Any]] = []
group_names: list[str] = []
with api_errors("Loading knowledge bases"):
    kbs = api.kbs()
    group_names = [g["name"] for g in api.groups()]
read_options = ["everyone", *[g for g in group_names if g != "everyone"]]

if kbs:
    st.dataframe(
        [
            {
                "name": kb["name"],
                "scenario": kb["scenario"],
                "readers": ", ".join(kb["read_groups"]) or "admins only",
                "OCR": "on" if kb.get("ocr", True) else "off",
                "backend": kb["backend"],
                "documents": kb["documents"],
                "chunks": kb["chunks"],
                "description": kb["description"],
            }
            for kb in kbs
        ],
        hide_index=True,
        use_container_width=True,
    )
else:
    st.info("No knowledge base yet: create the first one below.")

st.caption("Readers: `everyone` = every signed-in user; no group = admins only.")

with st.expander("Create a knowledge base", expanded=not kbs), st.form("kb_create"):
    name = st.text_input("Name", placeholder="e.g. hr-policies")
    scenario = st.selectbox("Scenario", SCENARIOS, format_func=lambda s: SCENARIO_LABELS.get(s, s))
    description = st.text_area("Description", height=80)
    readers = st.multiselect("Groups that may read it", read_options, default=["everyone"])
    ocr = st.checkbox(OCR_LABEL, value=True, help=OCR_HELP)
    backend = st.selectbox(
        "Search backend",
        BACKENDS,
        format_func=lambda b: BACKEND_LABELS[b],
        help="Where vectors and keywords live. Move a base later with `kb bases migrate NAME --to ...`.",
    )
    if st.form_submit_button("Create", type="primary"):
        with api_errors("Creating the knowledge base"):
            api.create_kb(
                name.strip(), scenario, description.strip(), readers, ocr=ocr, backend=backend or None
            )
            flash(f"Created knowledge base {name.strip()}.")
            st.rerun()

if kbs:
    st.subheader("Edit or delete")
    by_name = {kb["name"]: kb for kb in kbs}
    chosen = st.selectbox("Knowledge base", list(by_name), key="kb_edit_pick")
    kb = by_name[chosen]
    with st.form(f"kb_edit_{chosen}"):
        description = st.text_area("Description", value=kb["description"], height=80)
        scenario = st.selectbox(
            "Scenario",
            SCENARIOS,
            index=SCENARIOS.index(kb["scenario"]) if kb["scenario"] in SCENARIOS else 0,
            format_func=lambda s: SCENARIO_LABELS.get(s, s),
        )
        readers = st.multiselect(
            "Groups that may read it",
            sorted(set(read_options) | set(kb["read_groups"])),
            default=kb["read_groups"],
        )
        ocr = st.checkbox(OCR_LABEL, value=kb.get("ocr", True), help=OCR_HELP, key=f"kb_ocr_{chosen}")
        if st.form_submit_button("Save changes"):
            with api_errors("Saving"):
                api.update_kb(
                    chosen, description=description, scenario=scenario, read_groups=readers, ocr=ocr
                )
                flash(f"Saved {chosen}.")
                st.rerun()
    with st.form(f"kb_migrate_{chosen}"):
        others = [b for b in BACKENDS if b and b != kb["backend"]]
        target = st.selectbox(
            f"Move to another search backend (now: {kb['backend']})",
            others,
            format_func=lambda b: BACKEND_LABELS[b],
        )
        st.caption("Copies the vectors (no re-embedding); searches use the current backend until it is done.")
        if st.form_submit_button("Start moving"):
            with api_errors("Moving the knowledge base"):
                job_id = api.migrate_kb(chosen, target)
                flash(f"Moving {chosen} to {target} (job {job_id}); the table shows its backend when done.")
                st.rerun()
    confirm = st.checkbox(
        f"Yes, delete {chosen} with its {kb['documents']} documents and {kb['chunks']} chunks",
        key=f"kb_delete_confirm_{chosen}",
    )
    if st.button("Delete knowledge base", disabled=not confirm, key="kb_delete"):
        with api_errors("Deleting"):
            api.delete_kb(chosen)
            flash(f"Deleted knowledge base {chosen}.")
            st.rerun()
