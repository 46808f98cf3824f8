"""Generation over HTTP from any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, TGI, ...)."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from generation.backends.base import (
    BackendConnectionError,
    BackendResponseError,
    Generation,
    GenerationError,
    check_request,
)

CHARS_PER_TOKEN_ESTIMATE = 4
TOKENS_PER_MESSAGE = 4  # role and delimiters around each message in common chat templates


@dataclass
class _StreamState:
    """What one streamed response has told us so far."""

    started: float
    first_token_at: float | None = None
    deltas: int = 0
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)


def _tokenize_routes(model: str) -> list[tuple[str, Callable[[str], dict[str, Any]], Callable[[Any], int]]]:
    """Known token-count endpoints: (path from the server root, request body, count from the reply)."""
    return [
        ("/extras/tokenize/count", lambda t: {"input": t, "model": model}, lambda r: int(r["count"])),
        ("/tokenize", lambda t: {"content": t}, lambda r: len(r["tokens"])),  # llama.cpp server
        ("/tokenize", lambda t: {"model": model, "prompt": t}, lambda r: int(r["count"])),  # vLLM
        ("/tokenize", lambda t: {"inputs": t}, lambda r: len(r)),  # TGI
    ]


class OpenAICompatibleGenerator:
    """Chat completions from ``POST {base_url}/v1/chat/completions``; streams server-sent events.

    Example: ``OpenAICompatibleGenerator("http://gpu-box:8000", "Qwen/Qwen2.5-7B-Instruct")``
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        root = base_url.rstrip("/")
        self.root_url = root[: -len("/v1")] if root.endswith("/v1") else root
        self.chat_url = f"{self.root_url}/v1/chat/completions"
        self.model = model
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._transport = transport  # tests inject httpx.MockTransport here
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._tokenize_route: int | None = None  # index into _tokenize_routes, -1 = estimate
        self._usage_in_stream = True

    @property
    def client(self) -> httpx.Client:
        """One pooled HTTP client per generator, created on first use."""
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(
                    headers=self._headers, timeout=self.timeout, transport=self._transport
                )
            return self._client

    def close(self) -> None:
        """Close the pooled connections."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _payload(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float, stop: list[str] | None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if self._usage_in_stream:
            payload["stream_options"] = {"include_usage": True}
        if stop:
            payload["stop"] = stop
        return payload

    def _connection_error(self, exc: Exception) -> GenerationError:
        if isinstance(exc, httpx.TimeoutException):
            return BackendConnectionError(
                f"{self.chat_url}: no answer within {self.timeout}s ({type(exc).__name__}); the server may "
                "be overloaded or still loading the model - raise the timeout or check the server's logs"
            )
        return BackendConnectionError(
            f"{self.chat_url}: cannot connect ({exc}); check that the server is running, that the host and "
            "port are right and reachable from here, and that the URL is the server root (…/v1 is optional)"
        )

    def _events(self, payload: dict[str, Any], state: _StreamState) -> Iterator[str]:
        """Text deltas of one streamed chat completion; fills ``state`` as it goes."""
        try:
            with self.client.stream("POST", self.chat_url, json=payload) as response:
                if response.status_code != 200:
                    body = response.read().decode("utf-8", "replace")[:500]
                    if response.status_code in (400, 422) and "stream_options" in body:
                        # An older server that refuses usage-in-stream: ask again without it, for good.
                        self._usage_in_stream = False
                        payload = {k: v for k, v in payload.items() if k != "stream_options"}
                        yield from self._events(payload, state)
                        return
                    hint = " (check the API key)" if response.status_code in (401, 403) else ""
                    raise BackendResponseError(
                        f"{self.chat_url}: HTTP {response.status_code}{hint} for model {self.model!r}: {body}"
                    )
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[len("data:") :].strip()
                    if data == "[DONE]":
                        break
                    delta = self._read_event(data, state)
                    if delta:
                        if state.first_token_at is None:
                            state.first_token_at = time.perf_counter()
                        state.deltas += 1
                        yield delta
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from exc
        if state.finish_reason is None:
            raise BackendResponseError(
                f"{self.chat_url}: the stream ended without a finish reason, so the answer is cut short; "
                "the server dropped or interrupted the request (llama-cpp-python's server interrupts a "
                "stream when another request arrives unless started with --interrupt_requests False)"
            )

    def _read_event(self, data: str, state: _StreamState) -> str:
        """The content delta in one SSE ``data:`` payload; records usage and finish reason."""
        try:
            event = json.loads(data)
        except json.JSONDecodeError as exc:
            raise BackendResponseError(f"{self.chat_url}: unreadable stream event {data[:200]!r}") from exc
        if "error" in event:
            raise BackendResponseError(f"{self.chat_url}: server error {event['error']}")
        if event.get("usage"):
            state.usage = event["usage"]
        choices = event.get("choices") or []
        if not choices:
            return ""
        choice = choices[0]
        if choice.get("finish_reason"):
            state.finish_reason = choice["finish_reason"]
        return (choice.get("delta") or {}).get("content") or ""

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Generation:
        """One answer, streamed underneath so the time to first token is measured."""
        check_request(messages, max_tokens, temperature)
        state = _StreamState(started=time.perf_counter())
        text = "".join(self._events(self._payload(messages, max_tokens, temperature, stop), state))
        end = time.perf_counter()
        usage = state.usage
        prompt_tokens = usage.get("prompt_tokens")
        if prompt_tokens is None:  # server sent no usage: contents plus ChatML-style framing, an estimate
            prompt_tokens = sum(self.count_tokens(m["content"]) + TOKENS_PER_MESSAGE for m in messages) + 3
        # Servers stream one token per event; without usage, the event count is the best count we have.
        completion_tokens = usage.get("completion_tokens", state.deltas)
        first = state.first_token_at or end
        return Generation(
            text=text,
            prompt_tokens=int(prompt_tokens),
            completion_tokens=int(completion_tokens),
            first_token_ms=(first - state.started) * 1000,
            total_ms=(end - state.started) * 1000,
            finish_reason=state.finish_reason or "stop",
        )

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Text deltas as the server sends them."""
        check_request(messages, max_tokens, temperature)
        state = _StreamState(started=time.perf_counter())
        yield from self._events(self._payload(messages, max_tokens, temperature, stop), state)

    def count_tokens(self, text: str) -> int:
        """Token count from the server's tokenize endpoint if it has one, else a chars/4 estimate."""
        if not text:
            return 0
        routes = _tokenize_routes(self.model)
        order = range(len(routes)) if self._tokenize_route is None else [self._tokenize_route]
        for index in order:
            if index < 0:
                break
            path, body, read = routes[index]
            try:
                response = self.client.post(self.root_url + path, json=body(text))
                if response.status_code == 200:
                    count = read(response.json())
                    self._tokenize_route = index
                    return count
            except httpx.TransportError as exc:
                raise self._connection_error(exc) from exc
            except (ValueError, KeyError, TypeError):
                continue
        self._tokenize_route = -1
        return max(1, math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE))
