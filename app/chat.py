"""Chat over knowledge bases: permission-checked questions, conversations, streamed answers.

The caller's principal goes into retrieval, so an answer can only be built from text the caller
may read; stored history is re-checked against current permissions when it is read back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.accounts import Caller
from app.chat_stream import AnswerStream
from app.context import AppContext
from core.db import Conversation, DocumentRow, Feedback, KnowledgeBase, Message, User, utcnow
from core.errors import NotFoundError
from core.types import Answer, Citation, Principal
from generation.answerer import AskHooks
from retrieval.filters import SearchFilters, can_read, can_read_kb

HISTORY_TURNS = 6  # earlier turns given to the follow-up condenser
TIMINGS = ("retrieval_ms", "first_token_ms", "first_shown_ms", "total_ms", "tokens_per_s")
REDACTED = "[hidden: this answer cited documents you can no longer read]"


@dataclass
class ChatRequest:
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


class ChatService:
    """Answers questions for a caller and keeps their conversations."""

    def __init__(self, ctx: AppContext, on_answer: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.on_answer = on_answer

    # ------------------------------------------------------------------ access
    def readable_kb(self, name: str, principal: Principal) -> KnowledgeBase:
        """The base if the principal may read it; otherwise 404, as if it did not exist."""
        with self.db.session() as session:
            kb = session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name))
        if kb is None or not can_read_kb(kb.read_groups or [], principal):
            raise NotFoundError(f"knowledge base {name!r} does not exist or you may not read it")
        return kb

    def readable_documents(self, doc_ids: set[str], principal: Principal) -> set[str]:
        """The subset of ``doc_ids`` the principal may read now."""
        if not doc_ids:
            return set()
        with self.db.session() as session:
            rows = session.execute(
                select(DocumentRow.id, DocumentRow.access_groups, KnowledgeBase.read_groups)
                .join(KnowledgeBase, KnowledgeBase.id == DocumentRow.kb_id)
                .where(DocumentRow.id.in_(doc_ids))
            ).all()
        return {
            d
            for d, groups, kb_groups in rows
            if can_read_kb(kb_groups or [], principal) and can_read(groups or [], principal)
        }

    # ------------------------------------------------------------------ asking
    def prepare(self, caller: Caller, req: ChatRequest) -> PreparedChat:
        """Check everything that can fail before an answer starts streaming (errors become 4xx)."""
        if not req.question.strip():
            raise ValueError("the question is empty; type a question")
        principal = caller.principal()
        history: list[dict[str, str]] = list(req.history or [])
        kbs = list(dict.fromkeys(req.kbs))
        scenario = req.scenario
        if req.conversation_id:
            conv = self._own_conversation(caller, req.conversation_id)
            kbs = kbs or list(conv.kbs)
            scenario = scenario or conv.scenario
            history = self._history(conv.id)
        if not kbs:
            raise ValueError("name at least one knowledge base in 'kbs'")
        bases = [self.readable_kb(name, principal) for name in kbs]
        if req.mode == "draft_reply":
            scenario = "customer_service"
        scenario = scenario or bases[0].scenario
        return PreparedChat(caller, req, kbs, scenario, history, req.conversation_id)

    def run(self, prepared: PreparedChat, hooks: AskHooks | None = None) -> dict[str, Any]:
        """Answer a prepared request (``hooks`` receive shown pieces and stages), then save it."""
        req = prepared.request
        answer = self.ctx.answerer.ask(
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
        if req.persist:
            payload = self._save(prepared, payload)
        else:
            payload = {"conversation_id": None, "message_id": None, **payload}
        return payload

    def start(
        self, prepared: PreparedChat, error_body: Callable[[BaseException], dict[str, Any]]
    ) -> AnswerStream:
        """Start answering in the background; read its events, and cancel it if the asker leaves."""
        return AnswerStream(lambda hooks: self.run(prepared, hooks), error_body)

    # ------------------------------------------------------------------ conversations
    def _own_conversation(self, caller: Caller, conversation_id: str) -> Conversation:
        with self.db.session() as session:
            conv = session.get(Conversation, conversation_id)
        if conv is None or conv.user_id != caller.id:
            raise NotFoundError(f"conversation {conversation_id} does not exist")
        return conv

    def _history(self, conversation_id: str) -> list[dict[str, str]]:
        with self.db.session() as session:
            rows = session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.created_at)
            ).all()
            # An abstention says nothing about the topic: the condenser would only be misled by it.
            return [
                {"role": m.role, "content": m.content}
                for m in rows
                if not (m.answer and m.answer.get("abstained"))
            ]

    def _save(self, prepared: PreparedChat, payload: dict[str, Any]) -> dict[str, Any]:
        caller, req = prepared.caller, prepared.request
        with self.db.session() as session:
            conv = session.get(Conversation, prepared.conversation_id) if prepared.conversation_id else None
            if conv is None:
                title = req.question.strip().splitlines()[0][:120]
                conv = Conversation(
                    user_id=caller.id, title=title, kbs=prepared.kbs, scenario=prepared.scenario
                )
                session.add(conv)
                session.flush()
            now = utcnow()
            session.add(Message(conversation_id=conv.id, role="user", content=req.question, created_at=now))
            reply = Message(
                conversation_id=conv.id, role="assistant", content=payload["answer"], answer=payload
            )
            session.add(reply)
            conv.updated_at = now
            session.flush()
            return {"conversation_id": conv.id, "message_id": reply.id, **payload}

    def list_conversations(self, caller: Caller) -> list[dict[str, Any]]:
        with self.db.session() as session:
            rows = session.scalars(
                select(Conversation)
                .where(Conversation.user_id == caller.id)
                .order_by(Conversation.updated_at.desc())
            ).all()
            return [_conversation_json(c) for c in rows]

    def get_conversation(self, caller: Caller, conversation_id: str) -> dict[str, Any]:
        conv = self._own_conversation(caller, conversation_id)
        with self.db.session() as session:
            messages = session.scalars(
                select(Message).where(Message.conversation_id == conv.id).order_by(Message.created_at)
            ).all()
        cited = {
            c["document_id"]
            for m in messages
            if m.answer
            for c in [*m.answer.get("citations", []), *m.answer.get("closest_sources", [])]
        }
        readable = self.readable_documents(cited, caller.principal())
        out = []
        for m in messages:
            answer = dict(m.answer) if m.answer else None
            content = m.content
            if answer is not None:
                # Permissions may have changed since: never replay text the caller may no longer read.
                cites = answer.get("citations", [])
                kept = [c for c in cites if c["document_id"] in readable]
                if len(kept) < len(cites):
                    content = REDACTED
                    answer.update(answer=REDACTED, unsupported_sentences=[])
                answer["citations"] = kept
                answer["closest_sources"] = [
                    s for s in answer.get("closest_sources", []) if s.get("document_id") in readable
                ]
                answer["conversation_id"], answer["message_id"] = conv.id, m.id
            out.append(
                {
                    "id": m.id,
                    "role": m.role,
                    "content": content,
                    "answer": answer,
                    "created_at": m.created_at.isoformat(),
                }
            )
        return {**_conversation_json(conv), "messages": out}

    def delete_conversation(self, caller: Caller, conversation_id: str) -> None:
        conv = self._own_conversation(caller, conversation_id)
        with self.db.session() as session:
            session.delete(session.get(Conversation, conv.id))

    # ------------------------------------------------------------------ feedback
    def add_feedback(self, caller: Caller, message_id: str, rating: str, comment: str) -> str:
        with self.db.session() as session:
            message = session.get(Message, message_id)
            conv = session.get(Conversation, message.conversation_id) if message else None
            if message is None or conv is None or conv.user_id != caller.id or message.role != "assistant":
                raise NotFoundError(f"answer {message_id} does not exist")
            row = Feedback(message_id=message_id, user_id=caller.id, rating=rating, comment=comment)
            session.add(row)
            session.flush()
            return row.id

    def list_feedback(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.db.session() as session:
            rows = session.execute(
                select(Feedback, Message, User.username)
                .join(Message, Message.id == Feedback.message_id)
                .join(User, User.id == Feedback.user_id)
                .order_by(Feedback.created_at.desc())
                .limit(limit)
            ).all()
            out = []
            for fb, message, username in rows:
                answer = message.answer or {}
                out.append(
                    {
                        "id": fb.id,
                        "rating": fb.rating,
                        "comment": fb.comment,
                        "username": username,
                        "message_id": message.id,
                        "question": answer.get("question", ""),
                        "answer": message.content,
                        "abstained": answer.get("abstained", False),
                        "citations": answer.get("citations", []),
                        "created_at": fb.created_at.isoformat(),
                    }
                )
            return out


def _conversation_json(conv: Conversation) -> dict[str, Any]:
    return {
        "id": conv.id,
        "title": conv.title,
        "kbs": list(conv.kbs or []),
        "scenario": conv.scenario,
        "created_at": conv.created_at.isoformat(),
        "updated_at": conv.updated_at.isoformat(),
    }


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
