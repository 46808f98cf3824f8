"""Generation capacity: slots, a bounded line with positions, 503 + Retry-After beyond it, and
searches that never wait for generation."""

from __future__ import annotations

import threading

import pytest

from app.api.capacity import GenerationBusy, GenerationGate
from tests.api.conftest import Api


def test_gate_admits_in_order_and_refuses_beyond_the_line() -> None:
    gate = GenerationGate(slots=1, queue=2, retry_after=7)
    first, second, third = gate.ticket(), gate.ticket(), gate.ticket()
    assert (first.position(), second.position(), third.position()) == (0, 1, 2)
    with pytest.raises(GenerationBusy) as busy:
        gate.ticket()
    assert busy.value.retry_after == 7
    assert not second.wait(0.05)  # still in line
    admitted = threading.Event()
    threading.Thread(target=lambda: third.wait() and admitted.set(), daemon=True).start()
    second.release()  # leaving the line early moves the next one up
    assert third.position() == 1
    first.release()
    assert admitted.wait(5) and third.position() == 0
    third.release()
    assert gate.stats() == (0, 0)


def test_full_line_is_503_with_retry_after_and_search_still_answers(api: Api) -> None:
    admin = api.user("root", "admin")
    api.client.post("/kbs", headers=admin, json={"name": "kb", "read_groups": ["everyone"]})
    api.upload(admin, "kb", {"a.md": b"# Leave\n\nTwenty days of paid leave a year.\n"})
    api.run_jobs()
    gate = api.services.generation
    held = [gate.ticket() for _ in range(gate.slots + gate.queue)]  # every slot busy, the line full
    try:
        refused = api.client.post("/chat", headers=admin, json={"question": "leave?", "kbs": ["kb"]})
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
        streamed = api.client.post(
            "/chat", headers=admin, json={"question": "leave?", "kbs": ["kb"], "stream": True}
        )
        assert streamed.status_code == 503
        found = api.client.post("/search", headers=admin, json={"query": "paid leave", "kbs": ["kb"]})
        assert found.status_code == 200 and found.json()["hits"]
    finally:
        for ticket in held:
            ticket.release()
    answered = api.client.post("/chat", headers=admin, json={"question": "leave?", "kbs": ["kb"]})
    assert answered.status_code == 200
