"""Admin · knowledge bases: create, describe, choose which groups may read each one, delete."""

from typing import Any

import streamlit as st

from app.ui.examples import SCENARIOS, scenario_label
from app.ui.i18n import N_, t
from app.ui.session import api_errors, client, flash, require_role

OCR_LABEL = N_("Read text in scanned pages and images (OCR)")
OCR_HELP = N_(
    "Scanned PDFs, photos of documents, TIFF faxes and the labels of charts in PDFs and slides are "
    "read by OCR while ingesting. It is slow without a GPU (a few seconds a page); turn it off to "
    "skip such files. Applies to the next uploads."
)

# "" = whatever the server's KB_BACKEND says.
BACKENDS = ["", "faiss", "postgres", "milvus"]
BACKEND_LABELS = {
    "": N_("server default"),
    "faiss": N_("faiss — embedded files on the API host"),
    "postgres": N_("postgres — pgvector in the SQL database (shared by replicas)"),
    "milvus": N_("milvus — a Milvus server or cluster"),
}

# "" = whatever the server's KB_EMBEDDER says.
EMBEDDERS = ["", "minilm", "multilingual", "minilm-int8", "e5-small"]
EMBEDDER_LABELS = {
    "": N_("server default"),
    "minilm": N_("minilm — English (all-MiniLM-L6-v2)"),
    "multilingual": N_("multilingual — Chinese, English and across them (EmbeddingGemma-300M)"),
    "minilm-int8": N_("minilm-int8 — English, int8 ONNX (same vectors as minilm)"),
    "e5-small": N_("e5-small — light multilingual (multilingual-e5-small, 4-bit)"),
}

require_role("admin")
api = client()
st.title(t("Knowledge bases"))

kbs: list[dict[str, Any]] = []
group_names: list[str] = []
with api_errors(t("Loading knowledge bases")):
    kbs = api.kbs()
    group_names = [g["name"] for g in api.groups()]
read_options = ["everyone", *[g for g in group_names if g != "everyone"]]

if kbs:
    st.dataframe(
        [
            {
                t("name"): kb["name"],
                t("scenario"): scenario_label(kb["scenario"]),
                t("readers"): ", ".join(kb["read_groups"]) or t("admins only"),
                "OCR": t("on") if kb.get("ocr", True) else t("off"),
                t("backend"): kb["backend"],
                t("embedder"): kb.get("embedder", ""),
                t("documents"): kb["documents"],
                t("chunks"): kb["chunks"],
                t("description"): kb["description"],
            }
            for kb in kbs
        ],
        hide_index=True,
        use_container_width=True,
    )
else:
    st.info(t("No knowledge base yet: create the first one below."))

st.caption(t("Readers: `everyone` = every signed-in user; no group = admins only."))

with st.expander(t("Create a knowledge base"), expanded=not kbs), st.form("kb_create"):
    name = st.text_input(t("Name"), placeholder=t("e.g. hr-policies"))
    scenario = st.selectbox(t("Scenario"), SCENARIOS, format_func=scenario_label)
    description = st.text_area(t("Description"), height=80)
    readers = st.multiselect(t("Groups that may read it"), read_options, default=["everyone"])
    ocr = st.checkbox(t(OCR_LABEL), value=True, help=t(OCR_HELP))
    backend = st.selectbox(
        t("Search backend"),
        BACKENDS,
        format_func=lambda b: t(BACKEND_LABELS[b]),
        help=t("Where vectors and keywords live. Move a base later with `kb bases migrate NAME --to ...`."),
    )
    embedder = st.selectbox(
        t("Embedding model"),
        EMBEDDERS,
        format_func=lambda e: t(EMBEDDER_LABELS[e]),
        help=t(
            "Choose multilingual for Chinese or mixed documents, or when people ask in another "
            "language than the documents'. Change it later by re-embedding the base."
        ),
    )
    if st.form_submit_button(t("Create"), type="primary"):
        with api_errors(t("Creating the knowledge base")):
            api.create_kb(
                name.strip(),
                scenario,
                description.strip(),
                readers,
                ocr=ocr,
                backend=backend or None,
                embedder=embedder or None,
            )
            flash(t("Created knowledge base {name}.", name=name.strip()))
            st.rerun()

if kbs:
    st.subheader(t("Edit or delete"))
    by_name = {kb["name"]: kb for kb in kbs}
    chosen = st.selectbox(t("Knowledge base"), list(by_name), key="kb_edit_pick")
    kb = by_name[chosen]
    with st.form(f"kb_edit_{chosen}"):
        description = st.text_area(t("Description"), value=kb["description"], height=80)
        scenario = st.selectbox(
            t("Scenario"),
            SCENARIOS,
            index=SCENARIOS.index(kb["scenario"]) if kb["scenario"] in SCENARIOS else 0,
            format_func=scenario_label,
        )
        readers = st.multiselect(
            t("Groups that may read it"),
            sorted(set(read_options) | set(kb["read_groups"])),
            default=kb["read_groups"],
        )
        ocr = st.checkbox(t(OCR_LABEL), value=kb.get("ocr", True), help=t(OCR_HELP), key=f"kb_ocr_{chosen}")
        if st.form_submit_button(t("Save changes")):
            with api_errors(t("Saving")):
                api.update_kb(
                    chosen, description=description, scenario=scenario, read_groups=readers, ocr=ocr
                )
                flash(t("Saved {name}.", name=chosen))
                st.rerun()
    with st.form(f"kb_migrate_{chosen}"):
        others = [b for b in BACKENDS if b and b != kb["backend"]]
        target = st.selectbox(
            t("Move to another search backend (now: {backend})", backend=kb["backend"]),
            others,
            format_func=lambda b: t(BACKEND_LABELS[b]),
        )
        st.caption(
            t("Copies the vectors (no re-embedding); searches use the current backend until it is done.")
        )
        if st.form_submit_button(t("Start moving")):
            with api_errors(t("Moving the knowledge base")):
                job_id = api.migrate_kb(chosen, target)
                flash(
                    t(
                        "Moving {name} to {target} (job {job}); the table shows its backend when done.",
                        name=chosen,
                        target=target,
                        job=job_id,
                    )
                )
                st.rerun()
    with st.form(f"kb_reembed_{chosen}"):
        model = st.selectbox(
            t("Re-embed with another model (now: {model})", model=kb.get("embedder") or t("none yet")),
            [e for e in EMBEDDERS if e and e != kb.get("embedder")],
            format_func=lambda e: t(EMBEDDER_LABELS[e]),
        )
        st.caption(t("Embeds every chunk again; searches use the current vectors until it is done."))
        if st.form_submit_button(t("Start re-embedding")):
            with api_errors(t("Re-embedding the knowledge base")):
                job_id = api.reembed_kb(chosen, model)
                flash(
                    t("Re-embedding {name} with {model} (job {job}).", name=chosen, model=model, job=job_id)
                )
                st.rerun()
    confirm = st.checkbox(
        t(
            "Yes, delete {name} with its {documents} documents and {chunks} chunks",
            name=chosen,
            documents=kb["documents"],
            chunks=kb["chunks"],
        ),
        key=f"kb_delete_confirm_{chosen}",
    )
    if st.button(t("Delete knowledge base"), disabled=not confirm, key="kb_delete"):
        with api_errors(t("Deleting")):
            api.delete_kb(chosen)
            flash(t("Deleted knowledge base {name}.", name=chosen))
            st.rerun()
