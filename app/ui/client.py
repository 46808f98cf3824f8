"""``ApiClient``: the UI's typed door to the HTTP API (docs/api.md), over httpx with a bearer token.

Every failure becomes an ``ApiError`` whose ``detail`` a person can act on: the problem+json
``detail`` from the API, or what to do when the API cannot be reached.

>>> client = ApiClient("http://127.0.0.1:8000")
>>> client.login("employee", "secret")["user"]["role"]  # doctest: +SKIP
'employee'
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Iterator
from typing import Any

import httpx

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Answers from a local LLM on a CPU can take minutes; so can an evaluation run.
SLOW_TIMEOUT = httpx.Timeout(900.0, connect=5.0)


class ApiError(Exception):
    """An API call that did not succeed: the HTTP status (0 when nothing answered) and the problem."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []


class ApiUnreachable(ApiError):
    """Nothing answered at the API's address (connection refused, DNS, timeout)."""


def problem_from(response: httpx.Response) -> ApiError:
    """The ``ApiError`` for a failed response: problem+json when the API sent it, else its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if not isinstance(detail, str):
            detail = json.dumps(detail)
        return ApiError(
            int(body.get("status") or response.status_code),
            str(body.get("title") or response.reason_phrase),
            detail,
            body.get("errors") if isinstance(body.get("errors"), list) else None,
        )
    text = response.text.strip()[:300] or response.reason_phrase
    return ApiError(response.status_code, response.reason_phrase or "Error", text)


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs from server-sent-event lines whose ``data:`` lines hold JSON."""
    event = "message"
    data: list[str] = []  # the current event's `data:` lines
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].removeprefix(" "))
    if data:
        yield event, json.loads("\n".join(data))


class ApiClient:
    """The API's routes as methods returning the decoded JSON (``None`` for 204)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=DEFAULT_TIMEOUT, transport=transport)

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ plumbing
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _unreachable(self, exc: httpx.TransportError) -> ApiUnreachable:
        if isinstance(exc, httpx.TimeoutException):
            return ApiUnreachable(
                0,
                "Timeout",
                f"the API at {self.base_url} did not answer in time; is it overloaded? Try again",
            )
        return ApiUnreachable(
            0, "Unreachable", f"API not reachable at {self.base_url}; start it with `kb serve`"
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; the JSON body of a 2xx answer, or ``ApiError``."""
        try:
            response = self._http.request(method, path, headers=self._headers(), **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if response.status_code >= 400:
            raise problem_from(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call whose answer is a JSON object."""
        out: dict[str, Any] = self.request(method, path, **kwargs)
        return out

    def _rows(self, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        """A call whose answer is a JSON list of objects."""
        out: list[dict[str, Any]] = self.request(method, path, **kwargs)
        return out

    # ------------------------------------------------------------------ auth
    def health(self) -> dict[str, Any]:
        return self._object("GET", "/health")

    def login(self, username: str, password: str) -> dict[str, Any]:
        """Sign in; keeps the session token on this client and returns the login answer."""
        out = self._object("POST", "/auth/login", json={"username": username, "password": password})
        self.token = out["access_token"]
        return out

    def logout(self) -> None:
        self.request("POST", "/auth/logout")
        self.token = None

    def me(self) -> dict[str, Any]:
        return self._object("GET", "/me")

    # ------------------------------------------------------------------ knowledge bases
    def kbs(self) -> list[dict[str, Any]]:
        return self._rows("GET", "/kbs")

    def create_kb(
        self,
        name: str,
        scenario: str,
        description: str = "",
        read_groups: list[str] | None = None,
        ocr: bool = True,
        backend: str | None = None,
        embedder: str | None = None,
    ) -> dict[str, Any]:
        """``backend`` / ``embedder`` None: the server's default search backend / embedding model."""
        body = {
            "name": name,
            "scenario": scenario,
            "description": description,
            "read_groups": read_groups or [],
            "ocr": ocr,
            "backend": backend,
            "embedder": embedder,
        }
        return self._object("POST", "/kbs", json=body)

    def migrate_kb(self, name: str, to: str) -> str:
        """Start re-indexing a base into another search backend; the job id."""
        return str(self.request("POST", f"/kbs/{name}/migrate", json={"to": to})["job_id"])

    def reembed_kb(self, name: str, embedder: str) -> str:
        """Start re-embedding a base with another model; the job id."""
        return str(self.request("POST", f"/kbs/{name}/reembed", json={"embedder": embedder})["job_id"])

    def update_kb(self, name: str, **changes: Any) -> dict[str, Any]:
        return self._object("PATCH", f"/kbs/{name}", json=changes)

    def delete_kb(self, name: str) -> None:
        self.request("DELETE", f"/kbs/{name}")

    # ------------------------------------------------------------------ documents and jobs
    def upload(
        self,
        kb: str,
        files: list[tuple[str, bytes]],
        access_groups: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Upload ``(filename, bytes)`` pairs for ingestion: ``{"job_id", "files"}``."""
        data = {"access_groups": access_groups or [], "tags": tags or []}
        parts = [("files", (name, content)) for name, content in files]
        return self._object("POST", f"/kbs/{kb}/documents", files=parts, data=data, timeout=SLOW_TIMEOUT)

    def documents(self, kb: str) -> list[dict[str, Any]]:
        return self._rows("GET", f"/kbs/{kb}/documents")

    def update_document(self, doc_id: str, access_groups: list[str]) -> dict[str, Any]:
        return self._object("PATCH", f"/documents/{doc_id}", json={"access_groups": access_groups})

    def document_facts(self, doc_id: str) -> dict[str, Any]:
        return self._object("GET", f"/documents/{doc_id}/facts")

    def update_document_facts(self, doc_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Set facts (a value of None removes that fact); returns the document's facts after."""
        return self._object("PATCH", f"/documents/{doc_id}/facts", json=changes)

    def delete_document(self, doc_id: str) -> None:
        self.request("DELETE", f"/documents/{doc_id}")

    def reingest(self, doc_id: str) -> str:
        return str(self.request("POST", f"/documents/{doc_id}/reingest")["job_id"])

    def jobs(self, kb: str | None = None, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if kb:
            params["kb"] = kb
        if status:
            params["status"] = status
        return self._rows("GET", "/jobs", params=params)

    def retry_job(self, job_id: str) -> dict[str, Any]:
        return self._object("POST", f"/jobs/{job_id}/retry")

    def job(self, job_id: str) -> dict[str, Any]:
        return self._object("GET", f"/jobs/{job_id}")

    # ------------------------------------------------------------------ asking
    def search(self, query: str, kbs: list[str], k: int = 5) -> list[dict[str, Any]]:
        out = self._object("POST", "/search", json={"query": query, "kbs": kbs, "k": k})
        hits: list[dict[str, Any]] = out["hits"]
        return hits

    @staticmethod
    def _chat_body(
        question: str,
        kbs: list[str],
        scenario: str | None,
        tone: str,
        mode: str,
        conversation_id: str | None,
        stream: bool,
    ) -> dict[str, Any]:
        return {
            "question": question,
            "kbs": kbs,
            "scenario": scenario,
            "tone": tone,
            "mode": mode,
            "conversation_id": conversation_id,
            "stream": stream,
        }

    def chat(
        self,
        question: str,
        kbs: list[str],
        *,
        scenario: str | None = None,
        tone: str = "friendly",
        mode: str = "answer",
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        """The checked answer (ChatAnswer) in one response."""
        body = self._chat_body(question, kbs, scenario, tone, mode, conversation_id, False)
        return self._object("POST", "/chat", json=body, timeout=SLOW_TIMEOUT)

    def chat_stream(
        self,
        question: str,
        kbs: list[str],
        *,
        scenario: str | None = None,
        tone: str = "friendly",
        mode: str = "answer",
        conversation_id: str | None = None,
    ) -> Generator[tuple[str, dict[str, Any]], None, None]:
        """Yields ``("progress", {"stage", "elapsed_ms"})`` while the answer is prepared,
        ``("sentence", {"delta", "citations"})`` for each checked sentence, then ``("answer", ChatAnswer)``.
        Closing the generator early closes the connection, which stops the answer on the server.

        An ``error`` event, an error status or a dropped connection raises ``ApiError``."""
        body = self._chat_body(question, kbs, scenario, tone, mode, conversation_id, True)
        try:
            with self._http.stream(
                "POST", "/chat", json=body, headers=self._headers(), timeout=SLOW_TIMEOUT
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise problem_from(response)
                answered = False
                for event, data in parse_sse(response.iter_lines()):
                    if event == "error":
                        raise ApiError(
                            int(data.get("status") or 500),
                            str(data.get("title") or "Error"),
                            str(data.get("detail") or "the answer failed; try again"),
                        )
                    answered = answered or event == "answer"
                    yield event, data
                if not answered:
                    raise ApiError(502, "Bad Gateway", "the answer stream ended early; ask again")
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    # ------------------------------------------------------------------ conversations and feedback
    def conversations(self) -> list[dict[str, Any]]:
        return self._rows("GET", "/conversations")

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._object("GET", f"/conversations/{conversation_id}")

    def delete_conversation(self, conversation_id: str) -> None:
        self.request("DELETE", f"/conversations/{conversation_id}")

    def send_feedback(self, message_id: str, rating: str, comment: str = "") -> str:
        body = {"message_id": message_id, "rating": rating, "comment": comment}
        return str(self.request("POST", "/feedback", json=body)["id"])

    def feedback(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._rows("GET", "/feedback", params={"limit": limit})

    # ------------------------------------------------------------------ users and groups
    def users(self) -> list[dict[str, Any]]:
        return self._rows("GET", "/users")

    def create_user(self, username: str, password: str, role: str, groups: list[str]) -> dict[str, Any]:
        body = {"username": username, "password": password, "role": role, "groups": groups}
        return self._object("POST", "/users", json=body)

    def update_user(self, user_id: str, **changes: Any) -> dict[str, Any]:
        return self._object("PATCH", f"/users/{user_id}", json=changes)

    def groups(self) -> list[dict[str, Any]]:
        return self._rows("GET", "/groups")

    def create_group(self, name: str) -> dict[str, Any]:
        return self._object("POST", "/groups", json={"name": name})

    def delete_group(self, name: str) -> None:
        self.request("DELETE", f"/groups/{name}")

    def audit(self, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if action:
            params["action"] = action
        return self._rows("GET", "/audit", params=params)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, kb: str, filename: str, content: bytes, kind: str, limit: int = 20) -> dict[str, Any]:
        """Run ``kind`` (answers | retrieval) on a JSONL Q&A file: ``{"kind", "summary", "per_question"}``."""
        return self._object(
            "POST",
            f"/kbs/{kb}/eval",
            files={"file": (filename, content, "application/x-ndjson")},
            data={"kind": kind, "limit": str(limit)},
            timeout=SLOW_TIMEOUT,
        )
