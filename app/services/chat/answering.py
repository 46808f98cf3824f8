"""Answering a caller's question: checked before anything streams, retrieval as the caller, saved after.

The caller's principal goes into retrieval, so an answer can only be built from text the caller
may read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.services.accounts import Caller
from app.services.chat.access import ReadAccess
from app.services.chat.conversations import Conversations
from app.services.chat.stream import AnswerStream
from core.types import Answer, Citation
from generation.answerer import Answerer, AskHooks
from retrieval.filters import SearchFilters

HISTORY_TURNS = 6  # earlier turns given to the follow-up condenser
TIMINGS = ("retrieval_ms", "first_token_ms", "first_shown_ms", "total_ms", "tokens_per_s")


@dataclass
class ChatRequest:
    """A question as asked: the bases, scenario, tone, mode and the conversation it continues."""

    question: str
    kbs: list[str]
    scenario: str | None = None
    tone: str = "friendly"
    mode: str = "answer"  # answer | draft_reply
    conversation_id: str | None = None
    history: list[dict[str, str]] | None = None  # given by the client (OpenAI endpoint) instead
    persist: bool = True


@dataclass
class PreparedChat:
    """A request that passed every check, with its bases, scenario and history resolved."""

    caller: Caller
    request: ChatRequest
    kbs: list[str]
    scenario: str
    history: list[dict[str, str]] = field(default_factory=list)
    conversation_id: str | None = None


def _citation_json(c: Citation) -> dict[str, Any]:
    return {
        "n": c.n,
        "document_id": c.document_id,
        "kb": c.kb,
        "source": c.source,
        "title": c.title,
        "page": c.page,
        "section": c.section,
        "snippet": c.snippet,
        "char_start": c.char_start,
        "char_end": c.char_end,
        "ocr_confidence": c.ocr_confidence,
        "page_end": c.page_end,
    }


def answer_payload(answer: Answer) -> dict[str, Any]:
    """The JSON shape of a checked answer (docs/api.md: ChatAnswer without the ids)."""
    return {
        "answer": answer.text,
        "abstained": answer.abstained,
        "kind": answer.kind,
        "notice": answer.notice,
        "citations": [_citation_json(c) for c in answer.citations],
        "unsupported_sentences": list(answer.unsupported_sentences),
        "closest_sources": [_citation_json(c) for c in answer.closest],
        "timings": {key: answer.timings.get(key) for key in TIMINGS},
    }


class ChatAnswering:
    """Answers questions for a caller (whole or streamed) and saves them in their conversation."""

    def __init__(
        self,
        answerer: Callable[[], Answerer],
        access: ReadAccess,
        conversations: Conversations,
        on_answer: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.answerer = answerer  # called at the first question: the models load then, not at start-up
        self.access = access
        self.conversations = conversations
        self.on_answer = on_answer

    def prepare(self, caller: Caller, req: ChatRequest) -> PreparedChat:
        """Check everything that can fail before an answer starts streaming (errors become 4xx)."""
        if not req.question.strip():
            raise ValueError("the question is empty; type a question")
        principal = caller.principal()
        history: list[dict[str, str]] = list(req.history or [])
        kbs = list(dict.fromkeys(req.kbs))
        scenario = req.scenario
        if req.conversation_id:
            conv = self.conversations.own(caller, req.conversation_id)
            kbs = kbs or list(conv.kbs)
            scenario = scenario or conv.scenario
            history = self.conversations.history(conv.id)
        if not kbs:
            raise ValueError("name at least one knowledge base in 'kbs'")
        bases = [self.access.readable_kb(name, principal) for name in kbs]
        if req.mode == "draft_reply":
            scenario = "customer_service"
        scenario = scenario or bases[0].scenario
        return PreparedChat(caller, req, kbs, scenario, history, req.conversation_id)

    def run(self, prepared: PreparedChat, hooks: AskHooks | None = None) -> dict[str, Any]:
        """Answer a prepared request (``hooks`` receive shown pieces and stages), then save it."""
        req = prepared.request
        answer = self.answerer().ask(
            req.question,
            filters=SearchFilters(kbs=tuple(prepared.kbs)),
            principal=prepared.caller.principal(),
            scenario=prepared.scenario,
            tone=req.tone,
            task=req.mode,
            history=prepared.history[-2 * HISTORY_TURNS :] or None,
            hooks=hooks,
        )
        payload = {"question": req.question, **answer_payload(answer)}
        if self.on_answer:
            self.on_answer(payload)
        if not req.persist:
            return {"conversation_id": None, "message_id": None, **payload}
        return self.conversations.save(
            prepared.caller, prepared.conversation_id, prepared.kbs, prepared.scenario, req.question, payload
        )

    def start(
        self, prepared: PreparedChat, error_body: Callable[[BaseException], dict[str, Any]]
    ) -> AnswerStream:
        """Start answering in the background; read its events, and cancel it if the asker leaves."""
        return AnswerStream(lambda hooks: self.run(prepared, hooks), error_body)
