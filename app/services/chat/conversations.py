"""A caller's conversations: saved questions and answers, read back with current permissions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.services.accounts import Caller
from app.services.chat.access import ReadAccess
from core.db import Conversation, Database, Message, utcnow
from core.errors import NotFoundError

REDACTED = "[hidden: this answer cited documents you can no longer read]"


class Conversations:
    """Keeps each caller's conversations; only their owner sees them."""

    def __init__(self, db: Database, access: ReadAccess) -> None:
        self.db = db
        self.access = access

    def own(self, caller: Caller, conversation_id: str) -> Conversation:
        """The caller's conversation; 404 when it does not exist or belongs to someone else."""
        with self.db.session() as session:
            conv = session.get(Conversation, conversation_id)
        if conv is None or conv.user_id != caller.id:
            raise NotFoundError(f"conversation {conversation_id} does not exist")
        return conv

    def history(self, conversation_id: str) -> list[dict[str, str]]:
        """The conversation's turns as chat messages, for the follow-up condenser."""
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

    def save(
        self,
        caller: Caller,
        conversation_id: str | None,
        kbs: list[str],
        scenario: str,
        question: str,
        payload: dict[str, Any],
    ) -> dict[str, Any]:
        """Append a question and its answer (a new conversation when none is given); the payload
        with the conversation and message ids."""
        with self.db.session() as session:
            conv = session.get(Conversation, conversation_id) if conversation_id else None
            if conv is None:
                title = question.strip().splitlines()[0][:120]
                conv = Conversation(user_id=caller.id, title=title, kbs=kbs, scenario=scenario)
                session.add(conv)
                session.flush()
            now = utcnow()
            session.add(Message(conversation_id=conv.id, role="user", content=question, created_at=now))
            reply = Message(
                conversation_id=conv.id, role="assistant", content=payload["answer"], answer=payload
            )
            session.add(reply)
            conv.updated_at = now
            session.flush()
            return {"conversation_id": conv.id, "message_id": reply.id, **payload}

    def summaries(self, caller: Caller) -> list[dict[str, Any]]:
        """The caller's conversations (without messages), most recently updated first."""
        with self.db.session() as session:
            rows = session.scalars(
                select(Conversation)
                .where(Conversation.user_id == caller.id)
                .order_by(Conversation.updated_at.desc())
            ).all()
            return [_conversation_json(c) for c in rows]

    def get(self, caller: Caller, conversation_id: str) -> dict[str, Any]:
        """One conversation with its messages; answers citing what the caller may no longer read
        are redacted."""
        conv = self.own(caller, conversation_id)
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
        readable = self.access.readable_documents(cited, caller.principal())
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

    def delete(self, caller: Caller, conversation_id: str) -> None:
        """Delete one of the caller's conversations with its messages."""
        conv = self.own(caller, conversation_id)
        with self.db.session() as session:
            session.delete(session.get(Conversation, conv.id))


def _conversation_json(conv: Conversation) -> dict[str, Any]:
    return {
        "id": conv.id,
        "title": conv.title,
        "kbs": list(conv.kbs or []),
        "scenario": conv.scenario,
        "created_at": conv.created_at.isoformat(),
        "updated_at": conv.updated_at.isoformat(),
    }
