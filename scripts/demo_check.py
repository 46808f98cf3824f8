"""Verify a running demo over HTTP: logins work, each base answers, permissions hold, the UI serves.

Usage: python scripts/demo_check.py API_URL UI_URL   (run by `scripts/demo.sh --check`)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
BASES = {
    "customer-service": "customer_service",
    "finance": "finance",
    "retail": "retail",
    "zh-wiki": "chinese",
}


def login(api: str, username: str) -> dict[str, str]:
    response = httpx.post(
        f"{api}/auth/login", json={"username": username, "password": f"{username}-demo-pass"}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def main(api: str, ui: str) -> int:
    employee, agent = login(api, "employee"), login(api, "agent")
    bases = {b["name"]: b for b in httpx.get(f"{api}/kbs", headers=employee).json()}
    assert set(BASES) <= set(bases), f"missing demo bases: {set(BASES) - set(bases)}"
    for name, folder in BASES.items():
        assert bases[name]["chunks"] > 0, f"{name} has no chunks"
        question = json.loads((SAMPLES / folder / "example_questions.json").read_text())[0]["question"]
        answer = httpx.post(
            f"{api}/chat", headers=employee, json={"question": question, "kbs": [name]}, timeout=600
        ).json()
        sources = answer["citations"] or answer["closest_sources"]
        assert sources, f"{name}: no citations and no closest sources: {answer}"
        shown = [s["source"] for s in sources][:3]
        print(f"[{name}] {question}\n  -> {answer['answer'][:200]!r}\n  sources: {shown}")
    denied = httpx.post(
        f"{api}/search", headers=agent, json={"query": "iPhone net sales", "kbs": ["finance"]}
    )
    assert denied.status_code == 404, f"agent must not read finance: {denied.status_code}"
    assert httpx.get(ui, timeout=10).status_code == 200
    print("demo check passed: logins, four answering bases, permissions, UI")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
