"""Everything the routers use, built once per API process from the AppContext."""

from __future__ import annotations

from typing import Any

from app.accounts import Accounts, LoginThrottle
from app.api.metrics import Metrics
from app.audit import AuditLog
from app.chat import ChatService
from app.context import AppContext
from app.documents import DocumentService
from app.job_runner import JobRunner


class Services:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.accounts = Accounts(ctx.db, ctx.settings.session_hours)
        self.audit = AuditLog(ctx.db)
        self.login_throttle = LoginThrottle()
        self.metrics = Metrics(ctx.db)
        self.documents = DocumentService(ctx.db, ctx.backends)
        self.chat = ChatService(ctx, on_answer=self.metrics.observe_answer)
        self.jobs = JobRunner(ctx.db, ctx.backends, self._pipeline, ctx.settings.job_max_attempts)

    def _pipeline(self) -> Any:
        return self.ctx.pipeline
