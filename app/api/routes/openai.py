"""OpenAI-compatible endpoints: each readable knowledge base is a "model".

Existing OpenAI clients work with ``base_url=<api>/v1`` and an API token as the key. The answer's
checked citations travel in an extra ``citations`` field (and in the last chunk when streaming).
Client system messages are ignored: the platform's grounding rules are not negotiable.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.api.deps import CallerDep, ServicesDep
from app.api.problems import problem_body
from app.api.sse import SSE_HEADERS, sse_data
from app.services.chat.answering import ChatRequest

router = APIRouter(prefix="/v1", tags=["openai"])


class OAMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if isinstance(p, dict))
        return self.content or ""


class OAChatIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, … are accepted and ignored
    model: str = Field(min_length=1, max_length=128)
    messages: list[OAMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


@router.get("/models")
def list_models(caller: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": r["name"], "object": "model", "created": 0, "owned_by": "kb-platform"}
            for r in svc.bases.readable(caller.principal())
        ],
    }


def _split(messages: list[OAMessage]) -> tuple[str, list[dict[str, str]]]:
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise ValueError("the last message must be a non-empty user message")
    history = [{"role": m.role, "content": m.text()} for m in turns[:-1]]
    return turns[-1].text(), history


@router.post("/chat/completions")
def chat_completions(body: OAChatIn, request: Request, caller: CallerDep, svc: ServicesDep) -> Any:
    question, history = _split(body.messages)
    ask = ChatRequest(question=question, kbs=[body.model], history=history, persist=False)
    prepared = svc.chat.prepare(caller, ask)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not body.stream:
        result = svc.chat.run(prepared)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result["answer"]},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": result["citations"],
            "abstained": result["abstained"],
            "kind": result["kind"],
            "unsupported_sentences": result["unsupported_sentences"],
        }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body_ = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": prepared.kbs[0],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return sse_data(body_)

    async def events() -> AsyncIterator[str]:
        yield chunk({"role": "assistant"})
        streamed = False
        answer = svc.chat.start(prepared, problem_body)
        try:
            while (item := await run_in_threadpool(answer.next_event)) is not None:
                if await request.is_disconnected():  # Stop pressed, tab closed: stop the model
                    break
                event, data = item
                if event == "sentence":  # checked text only: it is never withdrawn
                    streamed = True
                    yield chunk({"content": data["delta"]})
                elif event == "answer":
                    if not streamed:  # a quote or an abstention: it is the whole content
                        yield chunk({"content": data["answer"]})
                    yield chunk(
                        {},
                        "stop",
                        citations=data["citations"],
                        abstained=data["abstained"],
                        kind=data["kind"],
                        unsupported_sentences=data["unsupported_sentences"],
                    )
                elif event == "error":
                    error = {"error": {"message": data["detail"], "code": data["status"]}}
                    yield sse_data(error)
        finally:
            answer.cancel()
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
