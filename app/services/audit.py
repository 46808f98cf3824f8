"""Audit log of security-relevant events: logins, permission changes, uploads, deletions, denials."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from core.db import AuditEvent, Database

log = logging.getLogger("kb.audit")


class AuditLog:
    """Append-only event rows. Recording never raises: a failing audit write is logged instead."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self, actor: str | None, action: str, target: str = "", outcome: str = "ok", **detail: Any
    ) -> None:
        try:
            with self.db.session() as session:
                session.add(
                    AuditEvent(
                        actor=actor, action=action, target=target[:256], outcome=outcome, detail=detail
                    )
                )
        except Exception:  # the request itself must not fail because the audit row could not be written
            log.exception("could not write audit event %s %s", action, target)

    def list(self, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
        with self.db.session() as session:
            query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
            if action:
                query = query.where(AuditEvent.action == action)
            return [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "outcome": e.outcome,
                    "detail": e.detail,
                }
                for e in session.scalars(query).all()
            ]
