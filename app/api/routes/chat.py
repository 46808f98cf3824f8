"""Search, chat (plain or streamed), conversations and feedback: always as the calling user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api.capacity import GenerationBusy
from app.api.deps import CallerDep, ServicesDep
from app.api.problems import Forbidden, problem_body
from app.api.schemas import ChatIn, ChatOut, FeedbackIn, HitOut, IdOut, SearchIn, SearchOut
from app.api.sse import SSE_HEADERS, sse
from app.services.accounts import Caller
from app.services.chat.answering import ChatRequest
from retrieval.filters import SearchFilters

router = APIRouter()


@router.post("/search", response_model=SearchOut, tags=["search"])
def search(body: SearchIn, caller: CallerDep, svc: ServicesDep) -> SearchOut:
    filters = SearchFilters(
        kbs=tuple(dict.fromkeys(body.kbs)),
        tags=frozenset(body.tags) if body.tags else None,
        metadata=dict(body.metadata),
    )
    hits = svc.search.search(
        body.query, k=body.k, filters=filters, principal=caller.principal(), rerank=body.rerank
    )
    return SearchOut(
        hits=[
            HitOut(
                chunk_id=h.chunk_id,
                document_id=h.document_id,
                kb=h.kb,
                title=h.title,
                source=h.source,
                page=h.page,
                section=" > ".join(h.heading_path) or None,
                text=h.text,
                score=h.score,
                dense_score=h.dense_score,
                sparse_score=h.sparse_score,
                rerank_score=h.rerank_score,
                ocr_confidence=h.metadata.get("ocr_confidence"),
            )
            for h in hits
        ]
    )


def _chat_request(body: ChatIn, caller: Caller) -> ChatRequest:
    if body.mode == "draft_reply" and caller.role not in ("admin", "agent"):
        raise Forbidden("drafting customer replies needs the agent or admin role")
    return ChatRequest(
        question=body.question,
        kbs=body.kbs,
        scenario=body.scenario,
        tone=body.tone,
        mode=body.mode,
        conversation_id=body.conversation_id,
    )


@router.post(
    "/chat",
    response_model=ChatOut,
    tags=["chat"],
    responses={200: {"content": {"text/event-stream": {}}, "description": "ChatOut, or events when stream"}},
)
def chat(body: ChatIn, request: Request, caller: CallerDep, svc: ServicesDep) -> Any:
    prepared = svc.chat.prepare(caller, _chat_request(body, caller))  # 4xx before any streaming
    wait_s = svc.settings.generation_wait_seconds
    if not body.stream:
        with svc.generation.ticket() as ticket:  # 503 + Retry-After now when the line is full
            if not ticket.wait(wait_s):
                raise GenerationBusy(f"no answer slot came free within {wait_s:.0f} s; try again", 10)
            return svc.chat.run(prepared)
    svc.generation.check()  # 503 + Retry-After before the stream starts when the line is full

    async def events() -> AsyncIterator[str]:
        # The place in line is taken inside the stream, so a client that never reads it holds none.
        full: dict[str, Any] | None = None
        try:
            ticket = svc.generation.ticket()
        except GenerationBusy as exc:
            full = problem_body(exc)
        if full is not None:
            yield sse("error", full)
            return
        try:
            waited = 0.0
            while not await run_in_threadpool(ticket.wait, 1.0):  # in line: say where, every second
                waited += 1.0
                if await request.is_disconnected():
                    return
                if waited >= wait_s:
                    busy = GenerationBusy(f"no answer slot came free within {wait_s:.0f} s; try again", 10)
                    yield sse("error", problem_body(busy))
                    return
                yield sse("queued", {"position": ticket.position()})
            answer = svc.chat.start(prepared, problem_body)
            try:
                while (item := await run_in_threadpool(answer.next_event)) is not None:
                    if await request.is_disconnected():  # Stop pressed, tab closed: stop the model
                        break
                    yield sse(*item)
            finally:  # the client left (Stop button, closed tab): stop the model too
                answer.cancel()
        finally:
            ticket.release()

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/conversations", tags=["chat"])
def list_conversations(caller: CallerDep, svc: ServicesDep) -> list[dict[str, Any]]:
    return svc.conversations.summaries(caller)


@router.get("/conversations/{conversation_id}", tags=["chat"])
def get_conversation(conversation_id: str, caller: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    return svc.conversations.get(caller, conversation_id)


@router.delete("/conversations/{conversation_id}", status_code=204, tags=["chat"])
def delete_conversation(conversation_id: str, caller: CallerDep, svc: ServicesDep) -> Response:
    svc.conversations.delete(caller, conversation_id)
    return Response(status_code=204)


@router.post("/feedback", response_model=IdOut, status_code=201, tags=["chat"])
def add_feedback(body: FeedbackIn, caller: CallerDep, svc: ServicesDep) -> IdOut:
    return IdOut(id=svc.feedback.add(caller, body.message_id, body.rating, body.comment))
