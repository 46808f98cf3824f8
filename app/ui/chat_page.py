"""Chat: pick a knowledge base and scenario, ask, watch the answer stream, check its sources."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.ui.client import ApiError
from app.ui.common import attempt, client, show_citations
from app.ui.examples import EXAMPLES

SCENARIOS = ["employee", "customer_service", "finance", "retail"]


def _sidebar_history() -> None:
    st.sidebar.divider()
    if st.sidebar.button("New conversation"):
        st.session_state.conversation_id = None
        st.session_state.messages = []
    conversations = attempt(lambda: client().conversations()) or []
    if conversations:
        st.sidebar.caption("Conversations")
    for conv in conversations[:20]:
        if st.sidebar.button(conv["title"][:60] or conv["id"], key=f"conv-{conv['id']}"):
            _load_conversation(conv["id"])


def _load_conversation(conversation_id: str) -> None:
    data = attempt(lambda: client().conversation(conversation_id))
    if data:
        st.session_state.conversation_id = data["id"]
        st.session_state.messages = [
            {"role": m["role"], "content": m["content"], "answer": m["answer"]} for m in data["messages"]
        ]


def _feedback_form(answer: dict[str, Any], key: str) -> None:
    message_id = answer.get("message_id")
    if not message_id:
        return
    with st.form(f"feedback-{key}", border=False):
        cols = st.columns([1, 4, 1])
        rating = cols[0].radio("Helpful?", ["👍", "👎"], horizontal=True, key=f"rating-{key}", index=None)
        comment = cols[1].text_input("Comment (optional)", key=f"comment-{key}")
        if cols[2].form_submit_button("Send"):
            if rating is None:
                st.warning("Pick 👍 or 👎 first.")
            elif attempt(lambda: client().feedback(message_id, "up" if rating == "👍" else "down", comment)):
                st.success("Thanks — your feedback was recorded.")


def _render_message(message: dict[str, Any], index: int) -> None:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])
        if message.get("answer"):
            show_citations(message["answer"], key=f"m{index}")
            _feedback_form(message["answer"], key=f"m{index}")


def _ask(question: str, kb: str, scenario: str) -> None:
    st.session_state.messages.append({"role": "user", "content": question, "answer": None})
    with st.chat_message("user"):
        st.markdown(question)
    body = {"question": question, "kbs": [kb], "scenario": scenario}
    if st.session_state.get("conversation_id"):
        body["conversation_id"] = st.session_state.conversation_id
    final: dict[str, Any] = {}
    with st.chat_message("assistant"):
        placeholder = st.empty()
        text = ""
        try:
            for event, data in client().chat_stream(**body):
                if event == "token":
                    text += data["delta"]
                    placeholder.markdown(text + " ▌")
                elif event == "answer":
                    final = data
                elif event == "error":
                    st.error(data.get("detail", "the answer failed"), icon="⚠️")
        except ApiError as exc:
            st.error(exc.detail, icon="⚠️")
            return
        if not final:
            return
        # The checked answer replaces the raw stream (phantom citations removed, or an abstention).
        placeholder.markdown(final["answer"])
    st.session_state.conversation_id = final.get("conversation_id")
    st.session_state.messages.append({"role": "assistant", "content": final["answer"], "answer": final})
    st.rerun()


def render() -> None:
    st.session_state.setdefault("messages", [])
    st.session_state.setdefault("conversation_id", None)
    kbs = attempt(lambda: client().kbs()) or []
    if not kbs:
        st.info("No knowledge base is readable for you yet. Ask an admin to grant your group access.")
        return
    names = [kb["name"] for kb in kbs]
    cols = st.columns(2)
    kb = cols[0].selectbox("Knowledge base", names, key="chat_kb")
    default = next(k["scenario"] for k in kbs if k["name"] == kb)
    scenario = cols[1].selectbox("Scenario", SCENARIOS, index=SCENARIOS.index(default), key=f"scenario-{kb}")
    _sidebar_history()
    for index, message in enumerate(st.session_state.messages):
        _render_message(message, index)
    pending = None
    if not st.session_state.messages:
        st.caption("Try one of these:")
        for i, example in enumerate(EXAMPLES.get(scenario, [])):
            if st.button(example, key=f"example-{i}"):
                pending = example
    question = st.chat_input("Ask a question about the documents") or pending
    if question:
        _ask(question, kb, scenario)
