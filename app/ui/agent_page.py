"""Agent desk: paste a customer's message, get a grounded reply draft to edit and copy."""

from __future__ import annotations

import streamlit as st

from app.ui.common import attempt, client, show_citations
from app.ui.examples import CUSTOMER_MESSAGE

TONES = ["friendly", "formal", "concise"]


def render() -> None:
    st.header("Agent desk")
    kbs = attempt(lambda: client().kbs()) or []
    if not kbs:
        st.info("No knowledge base is readable for you yet.")
        return
    names = sorted(
        (k["name"] for k in kbs),
        key=lambda n: next(k["scenario"] for k in kbs if k["name"] == n) != "customer_service",
    )
    cols = st.columns([2, 1])
    kb = cols[0].selectbox("Policy knowledge base", names, key="agent_kb")
    tone = cols[1].radio("Tone", TONES, horizontal=True, key="agent_tone")
    message = st.text_area("Customer message", value=CUSTOMER_MESSAGE, height=140, key="customer_message")
    regenerate = "draft" in st.session_state
    if st.button("Regenerate draft" if regenerate else "Draft reply", type="primary", key="draft_button"):
        with st.spinner("Drafting from the policy sources…"):
            draft = attempt(
                lambda: client().chat(question=message, kbs=[kb], mode="draft_reply", tone=tone),
                what="Drafting failed",
            )
        if draft:
            st.session_state.draft = draft
            st.session_state.draft_text = draft["answer"]
            st.rerun()
    draft = st.session_state.get("draft")
    if not draft:
        return
    if draft["abstained"]:
        st.warning("The policies do not cover this message; no draft was written. Closest sources below.")
    else:
        edited = st.text_area("Reply draft (edit before sending)", key="draft_text", height=220)
        st.caption("Copy the final text (copy button at the top right of the box):")
        st.code(edited, language=None, wrap_lines=True)
    st.subheader("Sources")
    show_citations(draft, key="draft")
