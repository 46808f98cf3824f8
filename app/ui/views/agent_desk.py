"""Agent desk: paste a customer's message, pick a tone, get a reply draft grounded in the policy
sources (``POST /chat`` with ``mode: "draft_reply"``), edit it, regenerate it, copy it."""

from typing import Any

import streamlit as st

from app.ui.examples import EXAMPLE_CUSTOMER_MESSAGES
from app.ui.render import NOT_COVERED, render_citations, render_closest_sources
from app.ui.session import api_errors, client, require_role

MESSAGE, DRAFT, DRAFT_TEXT = "desk_message", "desk_draft", "desk_draft_text"
TONES = ("friendly", "formal", "concise")

require_role("agent", "admin")
api = client()
kbs: list[dict[str, Any]] = []
with api_errors("Loading knowledge bases"):
    kbs = api.kbs()

st.title("Agent desk")
st.caption(
    "Draft a reply to a customer from the policies in a knowledge base. Review and edit it before sending."
)
if not kbs:
    st.info("You cannot read any knowledge base yet. Ask an admin to give one of your groups access.")
    st.stop()

# Customer-service bases first: they hold the policies replies should quote.
names = [kb["name"] for kb in sorted(kbs, key=lambda kb: kb["scenario"] != "customer_service")]


def use_example(text: str) -> None:
    st.session_state[MESSAGE] = text


left, right = st.columns([2, 1])
with right:
    kb_name = st.selectbox("Knowledge base", names, key="desk_kb")
    tone = st.radio("Tone", TONES, key="desk_tone", horizontal=True, format_func=str.capitalize)
    st.caption("Example messages")
    for i, example in enumerate(EXAMPLE_CUSTOMER_MESSAGES):
        st.button(example, key=f"desk_example_{i}", on_click=use_example, args=(example,))
with left:
    message = st.text_area(
        "Customer message", key=MESSAGE, height=160, placeholder="Paste the customer's message here…"
    )
    has_draft = st.session_state.get(DRAFT) is not None
    draft_clicked = st.button("Draft reply", type="primary", key="desk_draft_btn")
    regenerate = has_draft and st.button("Regenerate", key="desk_regenerate", icon=":material/refresh:")

if (draft_clicked or regenerate) and not message.strip():
    st.warning("Paste the customer's message first.")
elif draft_clicked or regenerate:
    with st.spinner("Drafting a reply from the sources…"), api_errors("Drafting"):
        answer = api.chat(
            message.strip(), [kb_name], mode="draft_reply", scenario="customer_service", tone=tone
        )
        st.session_state[DRAFT] = answer
        # Set before the text area exists in this run: the new draft replaces any edits.
        st.session_state[DRAFT_TEXT] = answer["answer"]

draft = st.session_state.get(DRAFT)
if draft is not None:
    st.subheader("Reply draft")
    if draft.get("abstained"):
        st.warning(
            f"**{NOT_COVERED}.** The policies do not answer this; do not promise anything yet.", icon="🔍"
        )
        render_closest_sources(draft.get("closest_sources") or [])
    unsupported = draft.get("unsupported_sentences") or []
    if unsupported:
        st.warning(
            "Not supported by the cited sources; check or remove before sending:\n\n"
            + "\n".join(f"- {s}" for s in unsupported)
        )
    edited = st.text_area("Edit the draft", key=DRAFT_TEXT, height=220)
    st.caption("Copy the edited reply (copy button at the top right of the box):")
    st.code(edited, language=None, wrap_lines=True)
    render_citations(draft.get("citations") or [], heading="Sources used in this draft")
