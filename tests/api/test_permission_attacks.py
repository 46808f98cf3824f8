"""Attack suite: two departments, documents with different groups, and a user of each trying to
reach the other's text through every route (search, chat, streaming, citations, conversations,
feedback, jobs, documents, the OpenAI endpoint). Nothing may leak; unknown ids answer 404."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import Api

SECRET = "Project Nightingale acquisition price is 41 million euros, closing in March."
PUBLIC = "The cafeteria opens at 8am and serves breakfast until 10am on weekdays."
HR_ONLY = "Salary bands for engineers range from 60k to 95k depending on level."


@pytest.fixture
def world(api: Api) -> dict:
    admin = api.user("root", "admin")
    finance = api.user("fiona", "employee", ["finance"])
    staff = api.user("sam", "employee", ["staff"])
    outsider = api.user("otto", "agent", [])  # no groups at all
    hr = api.user("hanna", "employee", ["hr", "staff"])
    api.client.post("/kbs", headers=admin, json={"name": "company", "read_groups": ["staff", "finance"]})
    api.client.post("/kbs", headers=admin, json={"name": "deals", "read_groups": ["finance"]})
    assert (
        api.upload(admin, "company", {"cafeteria.md": f"# Cafeteria\n\n{PUBLIC}\n".encode()}).status_code
        == 202
    )
    assert (
        api.upload(
            admin, "company", {"salaries.md": f"# Salaries\n\n{HR_ONLY}\n".encode()}, ["hr"]
        ).status_code
        == 202
    )
    assert (
        api.upload(admin, "deals", {"nightingale.md": f"# Nightingale\n\n{SECRET}\n".encode()}).status_code
        == 202
    )
    api.run_jobs()
    docs = {
        d["source"]: d["id"]
        for kb in ("company", "deals")
        for d in api.client.get(f"/kbs/{kb}/documents", headers=admin).json()
    }
    return {"admin": admin, "finance": finance, "staff": staff, "outsider": outsider, "hr": hr, "docs": docs}


def _texts(payload: object) -> str:
    return json.dumps(payload)


def test_search_never_returns_other_groups_text_even_when_quoted(api: Api, world: dict) -> None:
    # sam quotes the secret verbatim: the exact-match BM25 path must still not find it.
    for query in (SECRET, "Nightingale acquisition price", HR_ONLY):
        for kbs in (["company"], ["company", "deals"]):
            response = api.client.post("/search", headers=world["staff"], json={"query": query, "kbs": kbs})
            body = _texts(response.json())
            assert "Nightingale" not in body and "Salary bands" not in body
            if "deals" in kbs:
                assert response.status_code == 404  # the base itself is invisible to sam
    hits = api.client.post(
        "/search", headers=world["hr"], json={"query": HR_ONLY, "kbs": ["company"]}
    ).json()["hits"]
    assert any("Salary bands" in h["text"] for h in hits)  # the rightful reader does find it
    hits = api.client.post("/search", headers=world["outsider"], json={"query": PUBLIC, "kbs": ["company"]})
    assert hits.status_code == 404


def test_chat_streaming_and_citations_do_not_leak(api: Api, world: dict) -> None:
    body = {"question": "What are the salary bands for engineers by level?", "kbs": ["company"]}
    answer = api.client.post("/chat", headers=world["staff"], json=body).json()
    assert "Salary bands" not in _texts(answer) and "95k" not in _texts(answer)
    assert "salaries.md" not in _texts(answer)
    streamed = api.client.post("/chat", headers=world["staff"], json={**body, "stream": True}).text
    assert "salaries.md" not in streamed
    deals = api.client.post("/chat", headers=world["staff"], json={"question": SECRET, "kbs": ["deals"]})
    assert deals.status_code == 404 and "Nightingale" not in deals.text


def test_openai_endpoint_lists_and_answers_only_readable_bases(api: Api, world: dict) -> None:
    models = [m["id"] for m in api.client.get("/v1/models", headers=world["staff"]).json()["data"]]
    assert models == ["company"]
    assert [m["id"] for m in api.client.get("/v1/models", headers=world["finance"]).json()["data"]] == [
        "company",
        "deals",
    ]
    body = {"model": "deals", "messages": [{"role": "user", "content": SECRET}]}
    assert api.client.post("/v1/chat/completions", headers=world["staff"], json=body).status_code == 404
    body = {"model": "company", "messages": [{"role": "user", "content": HR_ONLY}], "stream": True}
    assert (
        "salaries.md" not in api.client.post("/v1/chat/completions", headers=world["staff"], json=body).text
    )


def test_other_users_conversations_and_feedback_are_invisible(api: Api, world: dict) -> None:
    mine = api.client.post(
        "/chat", headers=world["finance"], json={"question": "acquisition price?", "kbs": ["deals"]}
    ).json()
    conv, message = mine["conversation_id"], mine["message_id"]
    for headers in (world["staff"], world["hr"]):
        assert api.client.get(f"/conversations/{conv}", headers=headers).status_code == 404
        assert api.client.delete(f"/conversations/{conv}", headers=headers).status_code == 404
        assert api.client.get("/conversations", headers=headers).json() == []
        follow = api.client.post(
            "/chat", headers=headers, json={"question": "and the closing date?", "conversation_id": conv}
        )
        assert follow.status_code == 404 and "Nightingale" not in follow.text
        fb = api.client.post("/feedback", headers=headers, json={"message_id": message, "rating": "up"})
        assert fb.status_code == 404
        assert api.client.get("/feedback", headers=headers).status_code == 403


def test_history_drops_citations_after_access_is_revoked(api: Api, world: dict) -> None:
    mine = api.client.post(
        "/chat", headers=world["hr"], json={"question": "engineer salary bands", "kbs": ["company"]}
    ).json()
    assert any(c["source"] == "salaries.md" for c in mine["citations"])
    hanna = next(
        u for u in api.client.get("/users", headers=world["admin"]).json() if u["username"] == "hanna"
    )
    api.client.patch(f"/users/{hanna['id']}", headers=world["admin"], json={"groups": ["staff"]})
    thread = api.client.get(f"/conversations/{mine['conversation_id']}", headers=world["hr"]).json()
    assert "Salary bands" not in _texts(thread) and "95k" not in _texts(thread)
    assert thread["messages"][1]["content"].startswith("[hidden")
    assert all(
        c["source"] != "salaries.md"
        for m in thread["messages"]
        if m["answer"]
        for c in m["answer"]["citations"]
    )
    hits = api.client.post(
        "/search", headers=world["hr"], json={"query": HR_ONLY, "kbs": ["company"]}
    ).json()["hits"]
    assert all("Salary bands" not in h["text"] for h in hits)


def test_documents_jobs_and_admin_routes_are_closed_to_non_admins(api: Api, world: dict) -> None:
    secret_doc, hr_doc = world["docs"]["nightingale.md"], world["docs"]["salaries.md"]
    staff = world["staff"]
    assert api.client.get(f"/documents/{secret_doc}", headers=staff).status_code == 404
    assert api.client.get(f"/documents/{hr_doc}", headers=staff).status_code == 404
    assert [d["source"] for d in api.client.get("/kbs/company/documents", headers=staff).json()] == [
        "cafeteria.md"
    ]
    assert api.client.get("/kbs/deals/documents", headers=staff).status_code == 404
    job_id = api.client.get("/jobs", headers=world["admin"]).json()[0]["id"]
    for method, path, body in [
        ("get", f"/jobs/{job_id}", None),
        ("get", "/jobs", None),
        ("delete", f"/documents/{secret_doc}", None),
        ("patch", f"/documents/{hr_doc}", {"access_groups": []}),
        ("post", f"/documents/{hr_doc}/reingest", None),
        ("post", "/kbs", {"name": "mine"}),
        ("patch", "/kbs/deals", {"read_groups": ["everyone"]}),
        ("delete", "/kbs/deals", None),
        ("get", "/users", None),
        ("post", "/users", {"username": "evil", "password": "a long password", "role": "admin"}),
        ("get", "/groups", None),
        ("get", "/audit", None),
        ("get", "/metrics", None),
    ]:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(api.client, method)(path, headers=world["outsider"], **kwargs)
        assert response.status_code == 403, (method, path, response.text)
    upload = api.upload(world["outsider"], "company", {"x.md": b"# x\n\ninjected"})
    assert upload.status_code == 403
    denied = [e for e in api.client.get("/audit?action=access.denied", headers=world["admin"]).json()]
    assert denied and all(e["outcome"] == "denied" for e in denied)


def test_forged_expired_and_revoked_tokens(api: Api, world: dict) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from core.db import ApiToken, utcnow

    for header in ("Bearer kbs_forged", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000):
        assert api.client.get("/me", headers={"Authorization": header}).status_code in (401, 403)
    token = api.client.post(
        "/me/tokens", headers=world["staff"], json={"name": "t", "expires_days": 1}
    ).json()
    with api.services.ctx.db.session() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = api.client.get("/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    other = api.client.post("/me/tokens", headers=world["finance"], json={"name": "f"}).json()
    assert api.client.delete(f"/me/tokens/{other['id']}", headers=world["staff"]).status_code == 404
