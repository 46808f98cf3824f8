"""Everything the routers use, built once per API process from the AppContext."""

from __future__ import annotations

from app.api.capacity import GenerationGate
from app.api.metrics import Metrics
from app.context import AppContext
from app.services.accounts import Accounts, LoginThrottle
from app.services.audit import AuditLog
from app.services.bases import KnowledgeBaseService
from app.services.chat.access import ReadAccess
from app.services.chat.answering import ChatAnswering
from app.services.chat.conversations import Conversations
from app.services.chat.feedback import FeedbackLog
from app.services.documents import DocumentService
from app.services.jobs import JobService
from app.services.search import SearchService


class Services:
    """The services of one API process; models load on the first question or search, not here."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.accounts = Accounts(ctx.db, ctx.settings.session_hours)
        self.audit = AuditLog(ctx.db)
        self.login_throttle = LoginThrottle(ctx.db)
        self.metrics = Metrics(ctx.db)
        self.documents = DocumentService(ctx.db, ctx.backends, ctx.blobs)
        self.access = ReadAccess(ctx.db)
        self.conversations = Conversations(ctx.db, self.access)
        self.feedback = FeedbackLog(ctx.db)
        self.chat = ChatAnswering(
            lambda: ctx.answerer, self.access, self.conversations, on_answer=self.metrics.observe_answer
        )
        self.search = SearchService(lambda: ctx.retriever, self.access)
        self.jobs = JobService(ctx.db, ctx.job_queue, ctx.worker)
        self.bases = KnowledgeBaseService(
            ctx.settings, ctx.catalog, ctx.backends, ctx.blobs, self.jobs, self.access
        )
        self.generation = GenerationGate(ctx.settings.generation_slots, ctx.settings.generation_queue)
