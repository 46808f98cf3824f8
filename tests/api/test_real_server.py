"""A real `kb serve` on 127.0.0.1 with the real embedder and the bundled tiny LLM: upload a file,
poll its job, chat with streaming, and call /v1/chat/completions with the official openai client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_until_up

pytestmark = pytest.mark.slow
PASSWORD = "real server password"


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data), KB_LLM_PROFILE="tiny", KB_RERANKER="none", KB_ANSWER_MAX_TOKENS="48")
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("served") / "data"
    env = _env(data)
    subprocess.run(
        [sys.executable, "-m", "app.cli", "users", "create-admin", "--username", "root", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    port = free_port()
    log = open(data / "serve.log", "w")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", proc, data / "serve.log")
        token = httpx.post(f"{base}/auth/login", json={"username": "root", "password": PASSWORD}).json()[
            "access_token"
        ]
        yield base, token
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_upload_poll_stream_and_openai_client(server: tuple[str, str]) -> None:
    base, token = server
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        assert (
            client.post(
                "/kbs", json={"name": "handbook", "scenario": "employee", "read_groups": ["everyone"]}
            ).status_code
            == 201
        )
        text = b"# Vacation\n\nFull-time employees receive 25 days of paid vacation each year.\n"
        upload = client.post("/kbs/handbook/documents", files=[("files", ("vacation.md", text))])
        assert upload.status_code == 202
        job_id = upload.json()["job_id"]
        deadline = time.monotonic() + 180
        while (job := client.get(f"/jobs/{job_id}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert job["status"] == "succeeded" and job["chunks"] >= 1

        events: list[tuple[str, dict]] = []
        body = {
            "question": "How many days of paid vacation do full-time employees get?",
            "kbs": ["handbook"],
            "stream": True,
        }
        with client.stream("POST", "/chat", json=body) as response:
            assert response.status_code == 200
            event = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event:
                    events.append((event, json.loads(line[6:])))
        kinds = [e for e, _ in events]
        assert kinds[-1] == "answer", kinds
        final = events[-1][1]
        assert final["conversation_id"] and final["timings"]["retrieval_ms"] is not None
        if final["kind"] == "generated":  # only checked sentences streamed, and they are the answer
            assert final["citations"]
            assert "".join(d["delta"] for e, d in events if e == "sentence") == final["answer"]
        elif final["kind"] == "quoted":
            assert final["citations"] and "sentence" not in kinds
        else:
            assert final["closest_sources"][0]["source"] == "vacation.md"

        api_token = client.post("/me/tokens", json={"name": "openai-client"}).json()["token"]

    from openai import OpenAI

    oa = OpenAI(base_url=f"{base}/v1", api_key=api_token, timeout=300)
    assert [m.id for m in oa.models.list().data] == ["handbook"]
    completion = oa.chat.completions.create(
        model="handbook", messages=[{"role": "user", "content": "How much paid vacation is there?"}]
    )
    assert completion.choices[0].message.content
    extra = completion.model_extra or {}
    assert "citations" in extra and "abstained" in extra
    chunks = list(
        oa.chat.completions.create(
            model="handbook", messages=[{"role": "user", "content": "Paid vacation days?"}], stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks)
