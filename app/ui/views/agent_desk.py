"""Agent desk: paste a customer's message, pick a tone, get a reply draft grounded in the policy
sources (``POST /chat`` with ``mode: "draft_reply"``), edit it, regenerate it, copy it. The draft
only ever holds what may be sent to the customer; anything the agent must know (not covered, parts
left out) is shown beside it, never inside it."""

from typing import Any

import streamlit as st

from app.ui.examples import EXAMPLE_CUSTOMER_MESSAGES
from app.ui.i18n import N_, t
from app.ui.render import (
    NOT_COVERED,
    STAGE_LABELS,
    render_citations,
    render_closest_sources,
    render_left_out,
)
from app.ui.session import api_errors, client, require_role

MESSAGE, DRAFT, DRAFT_TEXT = "desk_message", "desk_draft", "desk_draft_text"
TONES = ("friendly", "formal", "concise")

require_role("agent", "admin")
api = client()
kbs: list[dict[str, Any]] = []
with api_errors(t("Loading knowledge bases")):
    kbs = api.kbs()

st.title(t("Agent desk"))
st.caption(
    t("Draft a reply to a customer from the policies in a knowledge base. Review and edit it before sending.")
)
if not kbs:
    st.info(t("You cannot read any knowledge base yet. Ask an admin to give one of your groups access."))
    st.stop()

# Customer-service bases first: they hold the policies replies should quote.
names = [kb["name"] for kb in sorted(kbs, key=lambda kb: kb["scenario"] != "customer_service")]


def use_example(text: str) -> None:
    st.session_state[MESSAGE] = text


left, right = st.columns([2, 1])
with right:
    kb_name = st.selectbox(t("Knowledge base"), names, key="desk_kb")
    tone = st.radio(t("Tone"), TONES, key="desk_tone", horizontal=True, format_func=str.capitalize)
    st.caption(t("Example messages"))
    for i, example in enumerate(EXAMPLE_CUSTOMER_MESSAGES):
        st.button(example, key=f"desk_example_{i}", on_click=use_example, args=(example,))
with left:
    message = st.text_area(
        t("Customer message"), key=MESSAGE, height=160, placeholder=t("Paste the customer's message here…")
    )
    has_draft = st.session_state.get(DRAFT) is not None
    draft_clicked = st.button(t("Draft reply"), type="primary", key="desk_draft_btn")
    regenerate = has_draft and st.button(t("Regenerate"), key="desk_regenerate", icon=":material/refresh:")

if (draft_clicked or regenerate) and not message.strip():
    st.warning(t("Paste the customer's message first."))
elif draft_clicked or regenerate:
    status, stop = st.empty(), st.empty()
    stop.button(t("Stop"), key="desk_stop", icon=":material/stop_circle:", help=t("Stop drafting"))
    status.caption(t("Drafting a reply from the sources…"))
    with api_errors(t("Drafting")):
        events = api.chat_stream(
            message.strip(), [kb_name], mode="draft_reply", scenario="customer_service", tone=tone
        )
        try:  # Stop interrupts this run; closing the stream stops the model on the server
            for event, data in events:
                if event == "progress":
                    label = t(STAGE_LABELS.get(data.get("stage", ""), N_("Working")))
                    status.caption(f"{label}… {data.get('elapsed_ms', 0) / 1000:.0f} s")
                elif event == "answer":
                    st.session_state[DRAFT] = data
                    # Set before the text area exists in this run: the new draft replaces any edits.
                    st.session_state[DRAFT_TEXT] = data["answer"]
        finally:
            events.close()
    status.empty()
    stop.empty()

draft = st.session_state.get(DRAFT)
if draft is not None:
    reply, notes = st.columns([3, 2])
    with reply:
        st.subheader(t("Reply draft"))
        if draft.get("abstained"):
            st.caption(t("A holding reply: safe to send while you check the question."))
        edited = st.text_area(t("Edit the draft"), key=DRAFT_TEXT, height=220)
        st.caption(t("Copy the edited reply (copy button at the top right of the box):"))
        st.code(edited, language=None, wrap_lines=True)
    with notes:
        st.subheader(t("For you (not sent)"))
        if draft.get("abstained"):
            st.warning(f"**{t(NOT_COVERED)}.** {draft.get('notice') or ''}", icon="🔍")
            render_closest_sources(draft.get("closest_sources") or [])
        elif draft.get("notice"):
            st.warning(draft["notice"], icon="⚠️")
        else:
            st.success(t("Every statement in the draft is backed by the cited policies."), icon="✅")
        render_left_out(list(draft.get("unsupported_sentences") or []))
        render_citations(draft.get("citations") or [], heading="Sources used in this draft")
