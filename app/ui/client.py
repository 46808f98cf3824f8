"""A small typed client of the platform's HTTP API (docs/api.md), used by the UI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx


class ApiError(Exception):
    """An API answer with a 4xx/5xx status; ``detail`` says what to do."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{title}: {detail}")
        self.status, self.title, self.detail = status, title, detail


class ApiUnreachable(ApiError):
    def __init__(self, url: str) -> None:
        super().__init__(0, "API not reachable", f"no answer from {url}; start it with `kb serve`")


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
        title, detail = body.get("title", "Error"), body.get("detail", response.text)
    except ValueError:
        title, detail = "Error", response.text[:300] or response.reason_phrase
    raise ApiError(response.status_code, title, detail)


class ApiClient:
    """Methods mirror the routes; every failure is an ApiError with an actionable message."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 600.0) -> None:
        self.base_url = base_url
        self.token = token
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, headers=self._headers, **kwargs)
        except httpx.TransportError:
            raise ApiUnreachable(self.base_url) from None
        _raise_for(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # auth
    def login(self, username: str, password: str) -> dict[str, Any]:
        data = self.request("POST", "/auth/login", json={"username": username, "password": password})
        self.token = data["access_token"]
        return data

    def logout(self) -> None:
        self.request("POST", "/auth/logout")
        self.token = None

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/me")  # type: ignore[no-any-return]

    # knowledge bases and documents
    def kbs(self) -> list[dict[str, Any]]:
        return self.request("GET", "/kbs")  # type: ignore[no-any-return]

    def create_kb(self, name: str, scenario: str, description: str, read_groups: list[str]) -> Any:
        body = {"name": name, "scenario": scenario, "description": description, "read_groups": read_groups}
        return self.request("POST", "/kbs", json=body)

    def update_kb(self, name: str, **changes: Any) -> Any:
        return self.request("PATCH", f"/kbs/{name}", json=changes)

    def delete_kb(self, name: str) -> None:
        self.request("DELETE", f"/kbs/{name}")

    def documents(self, kb: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/kbs/{kb}/documents")  # type: ignore[no-any-return]

    def upload(self, kb: str, files: list[tuple[str, bytes]], access_groups: list[str]) -> dict[str, Any]:
        return self.request(  # type: ignore[no-any-return]
            "POST",
            f"/kbs/{kb}/documents",
            files=[("files", (name, data)) for name, data in files],
            data={"access_groups": access_groups},
        )

    def set_document_groups(self, doc_id: str, groups: list[str]) -> Any:
        return self.request("PATCH", f"/documents/{doc_id}", json={"access_groups": groups})

    def delete_document(self, doc_id: str) -> None:
        self.request("DELETE", f"/documents/{doc_id}")

    def reingest(self, doc_id: str) -> dict[str, Any]:
        return self.request("POST", f"/documents/{doc_id}/reingest")  # type: ignore[no-any-return]

    def job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/jobs/{job_id}")  # type: ignore[no-any-return]

    def jobs(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.request("GET", "/jobs", params={"limit": limit})  # type: ignore[no-any-return]

    # chat
    def chat(self, **body: Any) -> dict[str, Any]:
        return self.request("POST", "/chat", json={**body, "stream": False})  # type: ignore[no-any-return]

    def chat_stream(self, **body: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event, data) pairs: ``token`` deltas, then ``answer`` (or ``error``)."""
        try:
            with self._http.stream(
                "POST", "/chat", headers=self._headers, json={**body, "stream": True}
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                event = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event:
                        yield event, json.loads(line[6:])
                        event = None
        except httpx.TransportError:
            raise ApiUnreachable(self.base_url) from None

    def conversations(self) -> list[dict[str, Any]]:
        return self.request("GET", "/conversations")  # type: ignore[no-any-return]

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        return self.request("GET", f"/conversations/{conversation_id}")  # type: ignore[no-any-return]

    def feedback(self, message_id: str, rating: str, comment: str = "") -> Any:
        body = {"message_id": message_id, "rating": rating, "comment": comment}
        return self.request("POST", "/feedback", json=body)

    # admin
    def users(self) -> list[dict[str, Any]]:
        return self.request("GET", "/users")  # type: ignore[no-any-return]

    def create_user(self, username: str, password: str, role: str, groups: list[str]) -> Any:
        body = {"username": username, "password": password, "role": role, "groups": groups}
        return self.request("POST", "/users", json=body)

    def update_user(self, user_id: str, **changes: Any) -> Any:
        return self.request("PATCH", f"/users/{user_id}", json=changes)

    def groups(self) -> list[dict[str, Any]]:
        return self.request("GET", "/groups")  # type: ignore[no-any-return]

    def create_group(self, name: str) -> Any:
        return self.request("POST", "/groups", json={"name": name})

    def feedback_list(self) -> list[dict[str, Any]]:
        return self.request("GET", "/feedback")  # type: ignore[no-any-return]

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.request("GET", "/audit", params={"limit": limit})  # type: ignore[no-any-return]

    def evaluate(self, kb: str, kind: str, data: bytes, limit: int) -> dict[str, Any]:
        return self.request(  # type: ignore[no-any-return]
            "POST",
            f"/kbs/{kb}/eval",
            files={"file": ("qa.jsonl", data)},
            data={"kind": kind, "limit": str(limit)},
        )
