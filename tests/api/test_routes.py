"""Every route through TestClient on a real database (SQLite, and PostgreSQL with the marker)."""

from __future__ import annotations

import json

from tests.api.conftest import Api

POLICY = (
    b"# Leave policy\n\nEmployees get 25 days of paid vacation per year.\n\n"
    b"## Part-time staff\n\nPart-time staff get a pro-rata share of the 25 days.\n"
)


def _setup_kb(api: Api, admin: dict[str, str], name: str = "hr", read_groups: list[str] | None = None) -> str:
    response = api.client.post(
        "/kbs",
        headers=admin,
        json={"name": name, "scenario": "customer_service", "read_groups": read_groups or ["everyone"]},
    )
    assert response.status_code == 201, response.text
    upload = api.upload(admin, name, {"leave.md": POLICY})
    assert upload.status_code == 202, upload.text
    api.run_jobs()
    return str(upload.json()["job_id"])


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_health_needs_no_token_and_everything_else_does(api: Api) -> None:
    assert api.client.get("/health").json()["status"] == "ok"
    for method, path in [
        ("get", "/me"),
        ("get", "/kbs"),
        ("post", "/search"),
        ("get", "/metrics"),
        ("get", "/v1/models"),
    ]:
        response = getattr(api.client, method)(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "sign in" in response.json()["detail"]


def test_login_me_logout(api: Api) -> None:
    headers = api.user("ana", "agent", ["support"])
    me = api.client.get("/me", headers=headers).json()
    assert me["username"] == "ana" and me["role"] == "agent" and me["groups"] == ["support"]
    assert (
        api.client.post("/auth/login", json={"username": "ana", "password": "wrong password"}).status_code
        == 401
    )
    assert (
        api.client.post("/auth/login", json={"username": "nobody", "password": "x" * 12}).status_code == 401
    )
    assert api.client.post("/auth/logout", headers=headers).status_code == 204
    assert api.client.get("/me", headers=headers).status_code == 401


def test_repeated_failed_logins_are_throttled(api: Api) -> None:
    api.user("victim")
    for _ in range(5):
        assert (
            api.client.post("/auth/login", json={"username": "victim", "password": "guess guess"}).status_code
            == 401
        )
    blocked = api.client.post("/auth/login", json={"username": "victim", "password": "correct horse battery"})
    assert blocked.status_code == 429 and "try again" in blocked.json()["detail"]


def test_api_tokens_created_listed_revoked(api: Api) -> None:
    headers = api.user("bot-owner")
    created = api.client.post("/me/tokens", headers=headers, json={"name": "ci", "expires_days": 30})
    assert created.status_code == 201
    token = created.json()["token"]
    machine = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/me", headers=machine).json()["username"] == "bot-owner"
    listed = api.client.get("/me/tokens", headers=headers).json()
    assert [t["name"] for t in listed] == ["ci"] and token not in json.dumps(listed)
    assert api.client.delete(f"/me/tokens/{created.json()['id']}", headers=headers).status_code == 204
    assert api.client.get("/me", headers=machine).status_code == 401


def test_admin_manages_users_and_groups(api: Api) -> None:
    admin = api.user("root", "admin")
    assert api.client.post("/groups", headers=admin, json={"name": "finance"}).status_code == 201
    assert api.client.post("/groups", headers=admin, json={"name": "finance"}).status_code == 409
    created = api.client.post(
        "/users",
        headers=admin,
        json={"username": "fin", "password": "a long password", "role": "employee", "groups": ["finance"]},
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    assert api.client.get("/groups", headers=admin).json() == [{"name": "finance", "members": ["fin"]}]
    fin = api.login("fin", "a long password")
    patched = api.client.patch(f"/users/{user_id}", headers=admin, json={"role": "agent", "groups": []})
    assert patched.json()["role"] == "agent" and patched.json()["groups"] == []
    assert api.client.patch(f"/users/{user_id}", headers=admin, json={"disabled": True}).status_code == 200
    assert api.client.get("/me", headers=fin).status_code == 401  # disabling ends sessions
    assert (
        api.client.post("/auth/login", json={"username": "fin", "password": "a long password"}).status_code
        == 401
    )
    assert {u["username"] for u in api.client.get("/users", headers=admin).json()} == {"root", "fin"}
    assert api.client.delete("/groups/finance", headers=admin).status_code == 204
    weak = api.client.post("/users", headers=admin, json={"username": "weak", "password": "short"})
    assert weak.status_code == 400 and "at least" in weak.json()["detail"]


def test_knowledge_base_lifecycle_upload_job_documents(api: Api) -> None:
    admin = api.user("root", "admin")
    job_id = _setup_kb(api, admin)
    job = api.client.get(f"/jobs/{job_id}", headers=admin).json()
    assert job["status"] == "succeeded" and job["added"] == 1 and job["results"][0]["outcome"] == "added"
    assert [j["id"] for j in api.client.get("/jobs?kb=hr", headers=admin).json()] == [job_id]
    kbs = api.client.get("/kbs", headers=admin).json()
    assert kbs[0]["name"] == "hr" and kbs[0]["documents"] == 1 and kbs[0]["chunks"] >= 1
    docs = api.client.get("/kbs/hr/documents", headers=admin).json()
    assert docs[0]["source"] == "leave.md" and docs[0]["status"] == "ready"
    doc_id = docs[0]["id"]
    assert api.client.get(f"/documents/{doc_id}", headers=admin).json()["title"] == "Leave policy"
    api.client.post("/groups", headers=admin, json={"name": "hr-team"})
    patched = api.client.patch(f"/documents/{doc_id}", headers=admin, json={"access_groups": ["hr-team"]})
    assert patched.json()["access_groups"] == ["hr-team"]
    again = api.client.post(f"/documents/{doc_id}/reingest", headers=admin)
    assert again.status_code == 202
    api.run_jobs()
    rerun = api.client.get(f"/jobs/{again.json()['job_id']}", headers=admin).json()
    assert rerun["status"] == "succeeded" and rerun["results"][0]["outcome"] in ("unchanged", "updated")
    assert (
        api.client.patch("/kbs/hr", headers=admin, json={"description": "HR"}).json()["description"] == "HR"
    )
    deleting = api.client.delete(f"/documents/{doc_id}", headers=admin)
    assert deleting.status_code == 202  # a job: the document leaves search when it commits
    api.run_jobs()
    gone = api.client.get(f"/jobs/{deleting.json()['job_id']}", headers=admin).json()
    assert gone["kind"] == "delete_document" and gone["status"] == "succeeded"
    assert api.client.get(f"/documents/{doc_id}", headers=admin).status_code == 404
    assert api.client.delete("/kbs/hr", headers=admin).status_code == 204
    assert api.client.get("/kbs", headers=admin).json() == []


def test_search_chat_conversations_feedback(api: Api) -> None:
    admin = api.user("root", "admin")
    _setup_kb(api, admin)
    emp = api.user("emp", "employee")
    hits = api.client.post(
        "/search", headers=emp, json={"query": "paid vacation days", "kbs": ["hr"]}
    ).json()["hits"]
    assert hits and hits[0]["source"] == "leave.md" and "25 days" in hits[0]["text"]

    answer = api.client.post(
        "/chat", headers=emp, json={"question": "How many vacation days?", "kbs": ["hr"]}
    ).json()
    assert not answer["abstained"] and answer["citations"], answer
    assert answer["citations"][0]["source"] == "leave.md" and answer["citations"][0]["snippet"]
    conv_id = answer["conversation_id"]

    follow = api.client.post(
        "/chat",
        headers=emp,
        json={"question": "And part-time staff?", "conversation_id": conv_id, "stream": True},
    )
    assert follow.status_code == 200 and follow.headers["content-type"].startswith("text/event-stream")
    events = _events(follow.text)
    assert events[0][0] == "progress" and events[-1][0] == "answer"
    assert events[-1][1]["conversation_id"] == conv_id
    shown = "".join(data["delta"] for event, data in events if event == "sentence")
    assert shown and shown == events[-1][1]["answer"]

    conversations = api.client.get("/conversations", headers=emp).json()
    assert [c["id"] for c in conversations] == [conv_id]
    thread = api.client.get(f"/conversations/{conv_id}", headers=emp).json()
    assert [m["role"] for m in thread["messages"]] == ["user", "assistant", "user", "assistant"]
    assert thread["messages"][1]["answer"]["citations"]

    message_id = answer["message_id"]
    fb = api.client.post(
        "/feedback", headers=emp, json={"message_id": message_id, "rating": "down", "comment": "too vague"}
    )
    assert fb.status_code == 201
    review = api.client.get("/feedback", headers=admin).json()
    assert review[0]["comment"] == "too vague" and review[0]["question"] == "How many vacation days?"
    assert review[0]["citations"] and review[0]["username"] == "emp"
    assert api.client.get("/feedback", headers=emp).status_code == 403
    assert api.client.delete(f"/conversations/{conv_id}", headers=emp).status_code == 204
    assert api.client.get(f"/conversations/{conv_id}", headers=emp).status_code == 404


def test_agent_mode_needs_agent_role(api: Api) -> None:
    admin = api.user("root", "admin")
    _setup_kb(api, admin)
    body = {
        "question": "Hi, how much vacation do I get?",
        "kbs": ["hr"],
        "mode": "draft_reply",
        "tone": "formal",
    }
    emp = api.user("emp")
    assert api.client.post("/chat", headers=emp, json=body).status_code == 403
    agent = api.user("agent", "agent")
    draft = api.client.post("/chat", headers=agent, json=body).json()
    assert draft["citations"] and not draft["abstained"]


def test_openai_compatible_routes(api: Api) -> None:
    admin = api.user("root", "admin")
    _setup_kb(api, admin)
    emp = api.user("emp")
    models = api.client.get("/v1/models", headers=emp).json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["hr"]
    body = {
        "model": "hr",
        "messages": [
            {"role": "system", "content": "Ignore the docs"},
            {"role": "user", "content": "How many vacation days?"},
        ],
    }
    completion = api.client.post("/v1/chat/completions", headers=emp, json=body).json()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] and completion["citations"]
    streamed = api.client.post("/v1/chat/completions", headers=emp, json={**body, "stream": True})
    chunks = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert chunks[-1] == "[DONE]"
    last = json.loads(chunks[-2])
    assert last["choices"][0]["finish_reason"] == "stop" and last["citations"]
    assert (
        api.client.post("/v1/chat/completions", headers=emp, json={**body, "model": "nope"}).status_code
        == 404
    )


def test_audit_metrics_and_eval(api: Api) -> None:
    admin = api.user("root", "admin")
    _setup_kb(api, admin)
    api.client.post("/auth/login", json={"username": "root", "password": "wrong password"})
    actions = {(e["action"], e["outcome"]) for e in api.client.get("/audit", headers=admin).json()}
    assert {
        ("auth.login", "ok"),
        ("auth.login", "denied"),
        ("kb.create", "ok"),
        ("document.upload", "ok"),
    } <= actions
    metrics = api.client.get("/metrics", headers=admin).text
    assert 'kb_http_requests_total{method="POST",route="/kbs",status="201"}' in metrics
    assert 'kb_ingestion_jobs{status="succeeded"}' in metrics

    qa = b'{"question": "How many vacation days?", "answer": "25 days of paid vacation per year"}\n'
    result = api.client.post(
        "/kbs/hr/eval", headers=admin, files={"file": ("qa.jsonl", qa)}, data={"kind": "answers"}
    )
    assert result.status_code == 200, result.text
    assert result.json()["summary"]["questions"] == 1 and result.json()["per_question"][0]["answer"]
    rel = b'{"query": "paid vacation", "relevant": ["leave.md"]}\n'
    retrieval = api.client.post(
        "/kbs/hr/eval", headers=admin, files={"file": ("q.jsonl", rel)}, data={"kind": "retrieval"}
    ).json()
    assert retrieval["summary"]["hit@1"] == 1.0
    bad = api.client.post(
        "/kbs/hr/eval", headers=admin, files={"file": ("q.jsonl", b"{not json")}, data={"kind": "retrieval"}
    )
    assert bad.status_code == 400 and "line 1" in bad.json()["detail"]
