"""Chat page (AppTest against the live API): streamed answer with citations, example questions,
follow-ups in one conversation, history, feedback, the abstention state and unsupported sentences."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest

from app.ui.examples import example_questions
from app.ui.render import answer_markdown
from tests.ui.conftest import KB, PERKS_ANSWER_PART, PERKS_QUESTION, LiveApi, app_as

CHAT = "views/chat.py"


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question)
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.main.markdown)


def test_answer_with_numbered_citations_that_expand_to_the_snippet(ui_env: LiveApi) -> None:
    at = ask(app_as(ui_env, "employee", CHAT), PERKS_QUESTION)
    assert at.session_state["chat_kb"] == KB
    assert PERKS_QUESTION in markdown_text(at)
    assert PERKS_ANSWER_PART in markdown_text(at)
    expander = at.expander[0]
    assert expander.label.startswith("[1] PerksPlus fitness program")
    assert "Coverage" in expander.label  # the section the citation points to
    assert any(PERKS_ANSWER_PART in m.value for m in expander.markdown)  # the snippet
    assert any("perksplus.md" in c.value for c in expander.caption)  # the source
    # the conversation is in the sidebar history
    assert PERKS_QUESTION in [b.label for b in at.sidebar.button]


def test_example_question_then_follow_up_in_the_same_conversation(ui_env: LiveApi) -> None:
    at = app_as(ui_env, "employee", CHAT)
    example = example_questions(at.session_state["chat_scenario"])[1]
    next(b for b in at.button if b.label == example).click().run()
    assert not at.exception and not at.error
    first = at.session_state["chat_conversation"]
    assert first and example in markdown_text(at)
    ask(at, "And how do I claim it?")
    assert at.session_state["chat_conversation"] == first
    assert len(at.session_state["chat_turns"]) == 2
    messages = ui_env.client("employee").conversation(first)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert not any(b.label == example for b in at.main.button)  # suggestions only on an empty chat


def test_history_reloads_a_conversation(ui_env: LiveApi) -> None:
    question = "Which purchases does PerksPlus pay back?"
    first = ask(app_as(ui_env, "agent", CHAT), question)
    answer = first.session_state["chat_turns"][0]["answer"]["answer"]
    at = app_as(ui_env, "agent", CHAT)  # a new browser session: empty chat
    assert not at.session_state["chat_turns"]
    next(b for b in at.sidebar.button if b.label == question).click().run()
    assert not at.exception and not at.error
    assert question in markdown_text(at)
    assert at.session_state["chat_turns"][0]["answer"]["answer"] == answer
    assert at.expander[0].label.startswith("[1] PerksPlus")
    # New conversation clears the screen
    next(b for b in at.sidebar.button if b.label == "New conversation").click().run()
    assert not at.session_state["chat_turns"] and at.session_state["chat_conversation"] is None


def test_thumbs_down_with_comment_reaches_the_api(ui_env: LiveApi) -> None:
    at = ask(app_as(ui_env, "employee", CHAT), "Is travel covered by PerksPlus?")
    message_id = at.session_state["chat_turns"][-1]["answer"]["message_id"]
    at.feedback[0].set_value(0).run()  # 0 = thumbs down
    comment = next(t for t in at.text_input if t.label == "Comment (optional)")
    comment.set_value("Should say travel is not covered").run()
    next(b for b in at.button if b.label == "Send feedback").click().run()
    assert not at.exception and not at.error
    assert any("Thanks for your feedback 👎" in c.value for c in at.caption)
    stored = [f for f in ui_env.client("admin").feedback() if f["message_id"] == message_id]
    assert [(f["rating"], f["comment"]) for f in stored] == [("down", "Should say travel is not covered")]


def test_abstention_shows_not_covered(ui_env: LiveApi) -> None:
    admin = ui_env.client("admin")
    admin.create_kb("empty-kb", "employee", "Nothing in here yet", ["everyone"])
    try:
        at = app_as(ui_env, "employee", CHAT)
        at.sidebar.selectbox[0].select("empty-kb").run()
        ask(at, "What is the parental leave policy?")
        assert at.session_state["chat_turns"][-1]["answer"]["abstained"]
        assert any("Not covered by the knowledge base" in w.value for w in at.warning)
        assert not at.expander  # nothing to cite
    finally:
        admin.delete_kb("empty-kb")


def _render_sample_answers() -> None:
    from app.ui.render import render_answer

    render_answer(
        {
            "answer": "The plan costs $65 per paycheck [1]. It also covers pets for free [1].",
            "abstained": False,
            "citations": [
                {
                    "n": 1,
                    "source": "Benefit_Options.pdf",
                    "title": "Benefit Options",
                    "page": 3,
                    "section": None,
                    "snippet": "Northwind Standard: $65.00 per paycheck",
                }
            ],
            "unsupported_sentences": ["It also covers pets for free [1]."],
        }
    )
    render_answer(
        {
            "answer": "I could not find this in the knowledge base.",
            "abstained": True,
            "citations": [],
            "unsupported_sentences": [],
            "closest_sources": [
                {"document_id": "d1", "source": "handbook.pdf", "title": "Handbook", "page": 8}
            ],
        }
    )


def test_unsupported_sentences_are_marked_and_abstention_lists_closest_sources() -> None:
    at = AppTest.from_function(_render_sample_answers).run()
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert (
        '<mark title="Not supported by the cited sources">⚠️ It also covers pets for free [1].</mark>' in text
    )
    assert "\\$65 per paycheck" in text  # `$` escaped: not LaTeX
    assert any("1 sentence marked above is not supported" in w.value for w in at.warning)
    assert any("Not covered by the knowledge base" in w.value for w in at.warning)
    assert "Handbook (handbook.pdf, p. 8)" in text
    assert at.expander[0].label == "[1] Benefit Options — p. 3"


def test_answer_markdown_escapes_html() -> None:
    marked: Any = answer_markdown("<script>x</script> Fine [1]. Wrong [2].", ["Wrong [2]."])
    assert "<script>" not in marked and "&lt;script&gt;" in marked
    assert marked.endswith('<mark title="Not supported by the cited sources">⚠️ Wrong [2].</mark>')
