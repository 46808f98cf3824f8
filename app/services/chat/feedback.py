"""Ratings and comments on answers: given by the asker, read by admins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.services.accounts import Caller
from core.db import Conversation, Database, Feedback, Message, User
from core.errors import NotFoundError


class FeedbackLog:
    """Records feedback on a caller's own answers and lists the latest for admins."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, caller: Caller, message_id: str, rating: str, comment: str) -> str:
        """Record feedback on one of the caller's answers; its id."""
        with self.db.session() as session:
            message = session.get(Message, message_id)
            conv = session.get(Conversation, message.conversation_id) if message else None
            if message is None or conv is None or conv.user_id != caller.id or message.role != "assistant":
                raise NotFoundError(f"answer {message_id} does not exist")
            row = Feedback(message_id=message_id, user_id=caller.id, rating=rating, comment=comment)
            session.add(row)
            session.flush()
            return row.id

    def latest(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest feedback with the question and answer it is about."""
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
