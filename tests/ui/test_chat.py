"""Chat page (AppTest against the live API): streamed answer with citations, example questions,
follow-ups in one conversation, history, feedback, the abstention state and unsupported sentences."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.ui.examples import example_questions
from app.ui.render import location, source_url
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
    # the link opens the original through the UI server, at the quoted passage
    assert any("](/_kb/files/" in m.value and "#:~:text=PerksPlus" in m.value for m in expander.markdown)
    # the conversation is in the sidebar history, with its base and date
    assert PERKS_QUESTION in [b.label for b in at.sidebar.button]
    assert any(c.value.startswith(KB + " · 20") for c in at.sidebar.caption)


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


def test_history_entry_can_be_deleted(ui_env: LiveApi) -> None:
    question = "Does PerksPlus reimburse yoga classes?"
    at = ask(app_as(ui_env, "employee", CHAT), question)
    conv = at.session_state["chat_conversation"]
    next(b for b in at.sidebar.button if b.key == f"conv_delete_{conv}").click().run()
    assert not at.exception and not at.error
    assert question not in [b.label for b in at.sidebar.button]
    assert at.session_state["chat_conversation"] is None and not at.session_state["chat_turns"]
    assert conv not in [c["id"] for c in ui_env.client("employee").conversations()]


def test_a_stopped_answer_keeps_what_was_checked(ui_env: LiveApi) -> None:
    at = app_as(ui_env, "employee", CHAT)
    at.session_state["chat_partial"] = {
        "question": "What does PerksPlus cover?",
        "text": "PerksPlus reimburses gym memberships [1].",
        "citations": {1: {"n": 1, "document_id": "d", "source": "perksplus.md", "title": "PerksPlus"}},
    }
    at.run()  # the run after the one Stop interrupted
    turn = at.session_state["chat_turns"][-1]
    assert turn["answer"]["stopped"] and turn["answer"]["answer"].startswith("PerksPlus reimburses")
    assert any("Stopped" in c.value for c in at.main.caption)


def _render_sample_answers() -> None:
    from app.ui.render import render_answer

    render_answer(
        {
            "answer": "The plan costs $65 per paycheck [1].",
            "abstained": False,
            "kind": "generated",
            "citations": [
                {
                    "n": 1,
                    "document_id": "d9",
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
            "answer": "The knowledge base does not cover this question.",
            "abstained": True,
            "kind": "abstained",
            "citations": [],
            "unsupported_sentences": [],
            "closest_sources": [
                {"document_id": "d1", "source": "handbook.pdf", "title": "Handbook", "page": 8,
                 "snippet": "Report safety concerns to your manager."}  # fmt: skip
            ],
        }
    )
    render_answer(
        {
            "answer": 'From Cardinal dominoes, Features: "Recommended for ages 8 and up." [2]',
            "abstained": False,
            "kind": "quoted",
            "citations": [{"n": 2, "document_id": "d2", "source": "dominoes.md", "title": "Cardinal dominoes",
                           "page": None, "section": "Features", "snippet": "Recommended for ages 8 and up."}],
            "unsupported_sentences": [],
        }
    )  # fmt: skip


def test_left_out_sentences_abstention_sources_and_quotes_render() -> None:
    at = AppTest.from_function(_render_sample_answers).run()
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert "\\$65 per paycheck" in text  # `$` escaped: not LaTeX
    assert "pets" not in text.split("~~")[0]  # a left-out sentence is never part of the answer
    left_out = next(e for e in at.expander if e.label.startswith("1 sentence left out"))
    assert any("~~It also covers pets for free [1].~~" in m.value for m in left_out.markdown)
    assert any("Not covered by the knowledge base" in w.value for w in at.warning)
    assert "**Handbook** · p. 8" in text and "> Report safety concerns to your manager." in text
    assert "(/_kb/files/d1#page=8)" in text
    assert any("Quoted from the source" in i.value for i in at.info)
    assert at.expander[0].label == "[1] Benefit Options — p. 3"


def test_source_links_open_pdfs_at_their_page_and_text_at_the_passage() -> None:
    assert source_url({"document_id": "abc", "page": 4}) == "/_kb/files/abc#page=4"
    url = source_url({"document_id": "abc", "page": None, "snippet": "- Recommended for 2-8 players, ages 8"})
    assert url == "/_kb/files/abc#:~:text=Recommended%20for%202-8%20players%2C%20ages%208"


def test_a_citation_over_a_page_break_shows_both_pages() -> None:
    assert location({"page": 3, "page_end": 4}) == "pp. 3–4"
    assert location({"page": 3, "page_end": None}) == "p. 3"
