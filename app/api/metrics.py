"""Prometheus metrics: request counts and latency per route, answers, and ingestion jobs."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from core.db import Database, IngestionJob


class _JobCollector:
    """Job counts by status, read from SQL at scrape time (so every API process reports the truth)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Any:
        family = GaugeMetricFamily("kb_ingestion_jobs", "Ingestion jobs by status", labels=["status"])
        with self.db.session() as session:
            rows = session.execute(
                select(IngestionJob.status, func.count()).group_by(IngestionJob.status)
            ).all()
        for status, count in rows:
            family.add_metric([status], count)
        yield family


class Metrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kb_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "kb_http_request_seconds", "Request latency", ["route"], registry=self.registry
        )
        self.answers = Counter("kb_answers", "Answers given", ["abstained"], registry=self.registry)
        self.first_token = Histogram(
            "kb_answer_first_token_seconds",
            "Time to the first streamed token",
            buckets=(0.5, 1, 2, 4, 8, 12, 20, 40),
            registry=self.registry,
        )
        self.registry.register(_JobCollector(db))

    def observe_answer(self, payload: dict[str, Any]) -> None:
        self.answers.labels(abstained=str(bool(payload.get("abstained"))).lower()).inc()
        first = (payload.get("timings") or {}).get("first_token_ms")
        if first:
            self.first_token.observe(first / 1000)

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # The route template, never the raw path: ids in paths would explode the label set.
        name = getattr(route, "path", "unmatched")
        self.requests.labels(request.method, name, str(response.status_code)).inc()
        self.latency.labels(name).observe(time.perf_counter() - start)
        return response

    def render(self) -> bytes:
        return generate_latest(self.registry)
