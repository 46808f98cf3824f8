"""Bounded fuzzing of the OpenAPI schema with schemathesis: generated requests (valid and
invalid) against every operation, as an admin with data present; none may cause a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from app.api.main import create_app
from app.context import AppContext
from ingest.embedder import HashingEmbedder
from tests.api.conftest import PASSWORD, Api, api_settings

AUTH: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzz_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    cfg = api_settings(tmp / "data", f"sqlite:///{tmp / 'kb.sqlite3'}")
    ctx = AppContext(cfg)
    ctx.use_embedder(HashingEmbedder())
    app = create_app(cfg, ctx, run_jobs=False)
    with TestClient(app) as client:
        api = Api(client, app.state.services)
        api.services.accounts.create_user("root", PASSWORD, "admin")
        session = api.login("root")
        # An API token: a fuzzed POST /auth/logout must not end the rest of the run.
        token = client.post("/me/tokens", headers=session, json={"name": "fuzz"}).json()["token"]
        AUTH["Authorization"] = f"Bearer {token}"
        client.post("/kbs", headers=AUTH, json={"name": "kb", "read_groups": ["everyone"]})
        api.upload(AUTH, "kb", {"policy.md": b"# Policy\n\nRefunds within 30 days.\n"})
        api.run_jobs()
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors(fuzz_schema: Any) -> None:
    # Plain Hypothesis over each operation's strategy (schemathesis' pytest plugin does not load
    # under this pytest version); the budget keeps the whole run to about a minute.
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 30
    failures: list[str] = []
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            response = case.call(headers=AUTH)
            statuses.append(response.status_code)
            where = f"{case.method} {case.formatted_path}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.status_code} {response.text[:300]}")
            elif response.status_code >= 400:
                content_type = response.headers.get("content-type", "")
                content_type = content_type[0] if isinstance(content_type, list) else content_type
                if not content_type.startswith("application/problem+json"):
                    failures.append(f"{where}: {response.status_code} without a problem body")

        run()
    assert not failures, "\n".join(failures[:20])
    assert len(statuses) > 200 and sum(1 for s in statuses if s < 400) > 30, sorted(set(statuses))
