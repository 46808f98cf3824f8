"""The FastAPI application: ``create_app(settings)``; ``kb serve`` runs it with uvicorn."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from app.api import problems
from app.api.routes import accounts, admin, bases, chat, documents, jobs, openai, ops
from app.api.services import Services
from app.context import AppContext
from core.settings import Settings

log = logging.getLogger("kb.api")

DESCRIPTION = """Knowledge bases, documents, search and cited answers from a local LLM.

Sign in with `POST /auth/login` (or create an API token with `POST /me/tokens`) and send
`Authorization: Bearer <token>`. Errors are `application/problem+json`.
"""


def create_app(
    settings: Settings, context: AppContext | None = None, *, run_jobs: bool = True, warm_up: bool = False
) -> FastAPI:
    """The API over ``context`` (built from ``settings`` when not given; migrations run first).

    ``run_jobs=False`` leaves jobs to another process (or to a test that calls
    ``app.state.services.jobs.run_next()`` itself); with ``KB_QUEUE=procrastinate`` the API only
    submits jobs and ``kb worker`` processes run them. ``warm_up`` loads the models in the background
    at start-up, so the first question does not wait for them."""
    ctx = context or AppContext(settings)
    ctx.check_backends()  # a backend whose extra is missing or whose engine is down fails here, by name
    services = Services(ctx)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if warm_up:
            # The embedder and the chunker's tokenizer load here, before any other thread starts:
            # transformers' lazy imports are not thread-safe (a job thread and the warm-up thread
            # importing it at once failed with "cannot import name 'AutoTokenizer'").
            _ = ctx.embedder, ctx.chunker
        # Sync routes run in AnyIO's thread pool (40 threads by default); answers waiting in line and
        # streams hold some of them, and searches must never queue behind those.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, 64 + 2 * settings.generation_queue)
        if run_jobs:
            services.jobs.start()
        if warm_up:
            threading.Thread(target=_warm_up, args=(ctx,), name="kb-warm-up", daemon=True).start()
        yield
        services.jobs.stop()

    app = FastAPI(title="kb-platform API", version=ops.VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.state.services = services
    problems.install(app)
    app.middleware("http")(services.metrics.middleware)
    for module in (ops, accounts, bases, documents, jobs, chat, admin, openai):
        app.include_router(module.router)
    return app


def _warm_up(ctx: AppContext) -> None:
    try:
        ctx.answerer.warm_up()
    except Exception:  # the first question will load the models (and report what fails) instead
        log.exception("warming up the answer models failed")
