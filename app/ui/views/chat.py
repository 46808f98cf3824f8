"""Chat: pick a knowledge base and scenario, ask, watch checked sentences arrive (with the elapsed
time and a Stop button), then read the answer with its numbered citations, each opening the original
at its page; rate it; come back to, or delete, earlier conversations from the sidebar."""

from typing import Any

import streamlit as st

from app.ui.client import ApiError
from app.ui.examples import SCENARIOS, example_questions, scenario_label
from app.ui.i18n import N_, t
from app.ui.render import STAGE_LABELS, escape_md, render_answer
from app.ui.session import api_errors, client, require_role

KB, SCENARIO, TURNS, CONVERSATION = "chat_kb", "chat_scenario", "chat_turns", "chat_conversation"
# The answer being streamed; left behind when its run is interrupted (the Stop button).
PARTIAL = "chat_partial"

require_role()
api = client()
kbs: list[dict[str, Any]] = []
with api_errors(t("Loading knowledge bases")):
    kbs = api.kbs()
if not kbs:
    st.title(t("Chat"))
    st.info(t("You cannot read any knowledge base yet. Ask an admin to give one of your groups access."))
    st.stop()
by_name = {kb["name"]: kb for kb in kbs}


def new_conversation() -> None:
    st.session_state[TURNS] = []
    st.session_state[CONVERSATION] = None


def kb_changed() -> None:
    kb = by_name.get(st.session_state[KB])
    if kb and kb.get("scenario") in SCENARIOS:
        st.session_state[SCENARIO] = kb["scenario"]
    new_conversation()


def turns_from(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """(question, checked answer) pairs from ``GET /conversations/{id}``."""
    turns, question = [], ""
    for message in conversation.get("messages", []):
        if message["role"] == "user":
            question = message["content"]
        elif message["role"] == "assistant":
            answer = message.get("answer") or {
                "answer": message["content"],
                "abstained": False,
                "citations": [],
                "message_id": message["id"],
            }
            turns.append({"question": question or answer.get("question", ""), "answer": answer})
            question = ""
    return turns


def load_conversation(conversation_id: str) -> None:
    try:
        conversation = client().conversation(conversation_id)
    except ApiError as exc:
        st.session_state["chat_error"] = t("Could not open that conversation: {detail}", detail=exc.detail)
        return
    st.session_state[TURNS] = turns_from(conversation)
    st.session_state[CONVERSATION] = conversation["id"]
    kbs_of = [name for name in conversation.get("kbs", []) if name in by_name]
    if kbs_of:
        st.session_state[KB] = kbs_of[0]
    if conversation.get("scenario") in SCENARIOS:
        st.session_state[SCENARIO] = conversation["scenario"]


if st.session_state.get(KB) not in by_name:
    st.session_state[KB] = kbs[0]["name"]
    kb_changed()
st.session_state.setdefault(TURNS, [])
st.session_state.setdefault(CONVERSATION, None)
if st.session_state.get(SCENARIO) not in SCENARIOS:
    st.session_state[SCENARIO] = by_name[st.session_state[KB]].get("scenario") or "employee"


def delete_conversation(conversation_id: str) -> None:
    try:
        client().delete_conversation(conversation_id)
    except ApiError as exc:
        st.session_state["chat_error"] = t("Could not delete that conversation: {detail}", detail=exc.detail)
        return
    if st.session_state.get(CONVERSATION) == conversation_id:
        new_conversation()


def stopped_turn() -> None:
    """An answer whose run was interrupted (Stop) stays on screen with what had been checked."""
    partial = st.session_state.pop(PARTIAL, None)
    if partial and partial["text"]:
        answer = {"answer": partial["text"], "abstained": False, "kind": "generated", "stopped": True,
                  "citations": list(partial["citations"].values())}  # fmt: skip
        st.session_state[TURNS].append({"question": partial["question"], "answer": answer})
    elif partial:
        st.session_state["chat_error"] = t("Stopped before any checked sentence was ready.")


with st.sidebar:
    st.selectbox(t("Knowledge base"), list(by_name), key=KB, on_change=kb_changed)
    st.selectbox(t("Scenario"), SCENARIOS, key=SCENARIO, format_func=scenario_label)
    st.button(t("New conversation"), on_click=new_conversation, icon=":material/add_comment:", key="chat_new")
    st.subheader(t("History"))
    with api_errors(t("Loading your conversations")):
        conversations = api.conversations()
        if not conversations:
            st.caption(t("Your conversations will appear here."))
        for conv in conversations[:30]:
            pick, remove = st.columns([6, 1], vertical_alignment="center")
            pick.button(
                conv["title"] or t("(untitled)"),
                key=f"conv_{conv['id']}",
                on_click=load_conversation,
                args=(conv["id"],),
                type="primary" if conv["id"] == st.session_state[CONVERSATION] else "secondary",
                use_container_width=True,
            )
            remove.button(
                "",
                key=f"conv_delete_{conv['id']}",
                icon=":material/delete:",
                help=t("Delete this conversation"),
                on_click=delete_conversation,
                args=(conv["id"],),
            )
            when = str(conv.get("updated_at") or "")[:16].replace("T", " ")
            pick.caption(escape_md(f"{', '.join(conv.get('kbs') or [])} · {when}"))

stopped_turn()
kb = by_name[st.session_state[KB]]
st.title(t("Chat"))
count = t("{count} documents", count=kb["documents"])
st.caption(escape_md(f"{kb['name']}: {kb.get('description') or ''} ({count})"))
if error := st.session_state.pop("chat_error", None):
    st.error(error)


def render_feedback(answer: dict[str, Any]) -> None:
    """Thumbs up/down with an optional comment → ``POST /feedback`` (once per answer)."""
    message_id = answer.get("message_id")
    if not message_id:
        return
    sent: dict[str, str] = st.session_state.setdefault("feedback_sent", {})
    if message_id in sent:
        st.caption(t("Thanks for your feedback") + f" {'👍' if sent[message_id] == 'up' else '👎'}")
        return
    rating = st.feedback("thumbs", key=f"fb_{message_id}")
    if rating is None:
        return
    comment = st.text_input(
        t("Comment (optional)"), key=f"fb_comment_{message_id}", placeholder=t("What was helpful or wrong?")
    )
    if st.button(t("Send feedback"), key=f"fb_send_{message_id}"):
        value = "up" if rating == 1 else "down"
        with api_errors(t("Sending feedback")):
            api.send_feedback(message_id, value, comment)
            sent[message_id] = value
            st.rerun()


for turn in st.session_state[TURNS]:
    with st.chat_message("user"):
        st.markdown(escape_md(turn["question"]))
    with st.chat_message("assistant"):
        render_answer(turn["answer"])
        render_feedback(turn["answer"])

question = st.chat_input(t("Ask a question about the knowledge base…"))
if not st.session_state[TURNS]:
    st.caption(t("Try one of these:"))
    for i, example in enumerate(example_questions(st.session_state[SCENARIO], kb["name"])):
        if st.button(example, key=f"example_{i}", icon=":material/lightbulb:"):
            question = example


def ask(question: str) -> None:
    """Stream the checked sentences as they come, with the elapsed time and a Stop button; the
    answer is then kept as a turn (via a rerun). Pressing Stop interrupts this run, which closes the
    connection: the API then stops the model."""
    with st.chat_message("user"):
        st.markdown(escape_md(question))
    with st.chat_message("assistant"):
        status = st.empty()
        body = st.empty()
        st.button(t("Stop"), key="chat_stop", icon=":material/stop_circle:", help=t("Stop this answer"))
        status.caption(t("Searching the knowledge base…"))
        partial: dict[str, Any] = {"question": question, "text": "", "citations": {}}
        st.session_state[PARTIAL] = partial
        answer = None
        with api_errors(t("Answering")):
            events = api.chat_stream(
                question,
                [kb["name"]],
                scenario=st.session_state[SCENARIO],
                conversation_id=st.session_state[CONVERSATION],
            )
            try:
                for event, data in events:
                    if event == "progress":
                        label = t(STAGE_LABELS.get(data.get("stage", ""), N_("Working")))
                        status.caption(f"{label}… {data.get('elapsed_ms', 0) / 1000:.0f} s")
                    elif event == "queued":  # every answer slot is busy: show the place in line
                        status.caption(f"Waiting for a free answer slot: {data.get('position')} in line")
                    elif event == "sentence":
                        partial["text"] += data.get("delta", "")
                        partial["citations"].update({c["n"]: c for c in data.get("citations", [])})
                        body.markdown(escape_md(partial["text"]) + " ▌")
                    elif event == "answer":
                        answer = data
            finally:
                events.close()  # on Stop (the run is interrupted here) this ends the request
        st.session_state.pop(PARTIAL, None)
        status.empty()
        body.empty()
    if answer is not None:
        st.session_state[TURNS].append({"question": question, "answer": answer})
        st.session_state[CONVERSATION] = answer.get("conversation_id") or st.session_state[CONVERSATION]
        st.rerun()


if question and question.strip():
    ask(question.strip())
