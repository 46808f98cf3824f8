"""Agent desk (AppTest against the live API): a grounded reply draft, edited, regenerated, copyable."""

from __future__ import annotations

from app.ui.examples import EXAMPLE_CUSTOMER_MESSAGES
from tests.ui.conftest import KB, PERKS_ANSWER_PART, LiveApi, app_as

DESK = "views/agent_desk.py"


def text_area(at, label):  # type: ignore[no-untyped-def]
    return next(t for t in at.text_area if t.label == label)


def test_draft_reply_with_sources_edit_and_regenerate(ui_env: LiveApi) -> None:
    at = app_as(ui_env, "agent", DESK)
    assert not at.exception and not at.error
    assert at.selectbox[0].value == KB
    text_area(at, "Customer message").set_value("Hi! Will PerksPlus pay for my yoga classes?")
    at.radio[0].set_value("formal")
    next(b for b in at.button if b.label == "Draft reply").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    draft = at.session_state["desk_draft"]
    assert draft["citations"] and not draft["abstained"]
    assert text_area(at, "Edit the draft").value == draft["answer"]
    assert PERKS_ANSWER_PART in draft["answer"]
    assert at.code[0].value == draft["answer"]  # st.code carries the copy button
    assert at.expander[0].label.startswith("[1] PerksPlus fitness program")
    assert any("Sources used in this draft" in c.value for c in at.caption)
    # the conversation is stored as a draft reply in the customer-service scenario
    conversation = ui_env.client("agent").conversation(draft["conversation_id"])
    assert conversation["scenario"] == "customer_service"

    text_area(at, "Edit the draft").set_value("Dear customer, yes: yoga classes are covered.").run()
    assert at.code[0].value == "Dear customer, yes: yoga classes are covered."

    next(b for b in at.button if b.label == "Regenerate").click().run()
    assert not at.exception and not at.error
    assert text_area(at, "Edit the draft").value == at.session_state["desk_draft"]["answer"]
    assert at.session_state["desk_draft"]["message_id"] != draft["message_id"]


def test_example_message_fills_the_box(ui_env: LiveApi) -> None:
    at = app_as(ui_env, "admin", DESK)
    next(b for b in at.button if b.label == EXAMPLE_CUSTOMER_MESSAGES[1]).click().run()
    assert text_area(at, "Customer message").value == EXAMPLE_CUSTOMER_MESSAGES[1]


def test_not_covered_gives_a_holding_reply_with_the_notice_beside_it(ui_env: LiveApi) -> None:
    admin = ui_env.client("admin")
    admin.create_kb("empty-policies", "customer_service", "No policies yet", ["everyone"])
    try:
        at = app_as(ui_env, "agent", DESK)
        at.selectbox[0].select("empty-policies").run()
        text_area(at, "Customer message").set_value("I was charged twice, can I get a refund?")
        next(b for b in at.button if b.label == "Draft reply").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        draft = at.session_state["desk_draft"]
        assert draft["abstained"] and draft["notice"]
        reply = text_area(at, "Edit the draft").value
        assert reply == draft["answer"] and draft["notice"] not in reply
        assert "knowledge base" not in reply.lower() and "refund" not in reply.lower()
        assert any(draft["notice"] in w.value for w in at.warning)  # shown to the agent, beside it
        assert any("holding reply" in c.value for c in at.caption)
    finally:
        admin.delete_kb("empty-policies")
