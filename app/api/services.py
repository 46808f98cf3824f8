"""Everything the routers use, built once per API process from the AppContext."""

from __future__ import annotations

from app.accounts import Accounts, LoginThrottle
from app.api.capacity import GenerationGate
from app.api.metrics import Metrics
from app.audit import AuditLog
from app.chat import ChatService
from app.context import AppContext
from app.documents import DocumentService
from app.jobs import JobService


class Services:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.accounts = Accounts(ctx.db, ctx.settings.session_hours)
        self.audit = AuditLog(ctx.db)
        self.login_throttle = LoginThrottle(ctx.db)
        self.metrics = Metrics(ctx.db)
        self.documents = DocumentService(ctx.db, ctx.backends, ctx.blobs)
        self.chat = ChatService(ctx, on_answer=self.metrics.observe_answer)
        self.jobs = JobService(ctx.db, ctx.job_queue, ctx.worker)
        self.generation = GenerationGate(ctx.settings.generation_slots, ctx.settings.generation_queue)
