"""``ApiClient`` against the live API: problem+json errors, SSE parsing, an unreachable API."""

from __future__ import annotations

import httpx
import pytest

from app.ui.client import ApiClient, ApiError, ApiUnreachable, parse_sse, problem_from
from tests.servers import free_port
from tests.ui.conftest import KB, PERKS_ANSWER_PART, PERKS_QUESTION, LiveApi


def test_parse_sse_events_with_json_data() -> None:
    lines = [
        "event: token",
        'data: {"delta": "Hello "}',
        "",
        ": a comment line is ignored",
        "event: token",
        'data: {"delta": "world"}',
        "",
        "event: answer",
        'data: {"answer": "Hello world [1].",',
        'data:  "abstained": false}',
        "",
    ]
    assert list(parse_sse(lines)) == [
        ("token", {"delta": "Hello "}),
        ("token", {"delta": "world"}),
        ("answer", {"answer": "Hello world [1].", "abstained": False}),
    ]


def test_problem_json_and_plain_errors_become_api_errors() -> None:
    problem = httpx.Response(
        404,
        json={
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "no such base; create it",
        },
    )
    err = problem_from(problem)
    assert (err.status, err.title, err.detail) == (404, "Not Found", "no such base; create it")
    proxy = problem_from(httpx.Response(502, text="<html>Bad gateway</html>"))
    assert proxy.status == 502 and "Bad gateway" in proxy.detail


def test_unreachable_api_says_how_to_start_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiUnreachable) as caught:
        ApiClient(url).health()
    assert caught.value.detail == f"API not reachable at {url}; start it with `kb serve`"
    with pytest.raises(ApiUnreachable):
        list(ApiClient(url, "token").chat_stream("hi", [KB]))


def test_login_errors_carry_the_problem_detail(live_api: LiveApi) -> None:
    with pytest.raises(ApiError) as caught:
        ApiClient(live_api.url).login("nobody", "wrong password")
    assert caught.value.status == 401 and caught.value.detail
    with pytest.raises(ApiError) as forbidden:
        live_api.client("employee").users()
    assert forbidden.value.status == 403 and "admin" in forbidden.value.detail


def test_chat_stream_yields_progress_checked_sentences_then_the_answer(live_api: LiveApi) -> None:
    events = list(live_api.client("employee").chat_stream(PERKS_QUESTION, [KB]))
    kinds = [event for event, _ in events]
    assert (
        kinds[0] == "progress" and kinds[-1] == "answer" and set(kinds) == {"progress", "sentence", "answer"}
    )
    assert [d["stage"] for e, d in events if e == "progress"][:1] == ["searching"]
    streamed = "".join(data["delta"] for event, data in events if event == "sentence")
    answer = events[-1][1]
    assert PERKS_ANSWER_PART in streamed and streamed == answer["answer"]  # nothing shown is withdrawn
    first = next(d for e, d in events if e == "sentence")
    assert first["citations"][0]["n"] == 1 and first["citations"][0]["document_id"]
    assert answer["citations"][0]["source"] == "perksplus.md" and answer["message_id"]


def test_chat_stream_errors_before_streaming_raise(live_api: LiveApi) -> None:
    with pytest.raises(ApiError) as caught:
        list(live_api.client("employee").chat_stream(PERKS_QUESTION, ["no-such-base"]))
    assert caught.value.status == 404 and "no-such-base" in caught.value.detail
