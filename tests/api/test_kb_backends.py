"""Each base records its search backend; the API offers the choice and refuses what cannot work here."""

from __future__ import annotations

from tests.api.conftest import Api

POLICY = b"# Leave\n\nEmployees get 25 days of paid vacation per year.\n"


def test_create_records_the_default_backend_and_search_uses_it(api: Api) -> None:
    admin = api.user("root", "admin")
    created = api.client.post("/kbs", headers=admin, json={"name": "hr", "read_groups": ["everyone"]})
    assert created.status_code == 201, created.text
    assert created.json()["backend"] == api.services.settings.backend
    assert api.upload(admin, "hr", {"leave.md": POLICY}).status_code == 202
    api.run_jobs()
    found = api.client.post("/search", headers=admin, json={"query": "vacation days", "kbs": ["hr"]})
    assert found.status_code == 200, found.text
    assert found.json()["hits"][0]["source"] == "leave.md"


def test_explicit_backend_and_bad_choices(api: Api) -> None:
    admin = api.user("root", "admin")
    faiss = api.client.post("/kbs", headers=admin, json={"name": "files", "backend": "faiss"})
    assert faiss.status_code == 201 and faiss.json()["backend"] == "faiss"
    listed = {kb["name"]: kb["backend"] for kb in api.client.get("/kbs", headers=admin).json()}
    assert listed["files"] == "faiss"
    unknown = api.client.post("/kbs", headers=admin, json={"name": "x", "backend": "elastic"})
    assert unknown.status_code == 422
    if api.services.settings.sqlalchemy_url.startswith("sqlite"):
        refused = api.client.post("/kbs", headers=admin, json={"name": "pg", "backend": "postgres"})
        assert refused.status_code == 503 and "KB_DATABASE_URL" in refused.json()["detail"]
        assert "pg" not in {kb["name"] for kb in api.client.get("/kbs", headers=admin).json()}


def test_migrate_runs_as_a_job(api: Api) -> None:
    admin = api.user("root", "admin")
    assert api.client.post("/kbs", headers=admin, json={"name": "hr", "backend": "faiss"}).status_code == 201
    assert api.upload(admin, "hr", {"leave.md": POLICY}).status_code == 202
    api.run_jobs()
    same = api.client.post("/kbs/hr/migrate", headers=admin, json={"to": "faiss"})
    assert same.status_code == 409
    employee = api.user("ann", "employee")
    assert api.client.post("/kbs/hr/migrate", headers=employee, json={"to": "postgres"}).status_code == 403
    if api.services.settings.sqlalchemy_url.startswith("sqlite"):
        refused = api.client.post("/kbs/hr/migrate", headers=admin, json={"to": "postgres"})
        assert refused.status_code == 503 and "KB_DATABASE_URL" in refused.json()["detail"]
        return
    started = api.client.post("/kbs/hr/migrate", headers=admin, json={"to": "postgres"})
    assert started.status_code == 202, started.text
    api.run_jobs()
    job = api.client.get(f"/jobs/{started.json()['job_id']}", headers=admin).json()
    assert job["status"] == "succeeded" and job["results"] == [
        {"from": "faiss", "to": "postgres", "chunks": 1}
    ]
    assert {kb["name"]: kb["backend"] for kb in api.client.get("/kbs", headers=admin).json()} == {
        "hr": "postgres"
    }
    found = api.client.post("/search", headers=admin, json={"query": "vacation days", "kbs": ["hr"]})
    assert found.json()["hits"][0]["source"] == "leave.md"
