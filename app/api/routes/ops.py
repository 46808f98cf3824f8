"""Health and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import text

from app.api.deps import ServicesDep, current_caller
from app.api.problems import Forbidden
from app.api.schemas import HealthOut

router = APIRouter(tags=["operations"])
VERSION = "0.1.0"


@router.get("/health", response_model=HealthOut)
def health(svc: ServicesDep) -> HealthOut:
    with svc.ctx.db.session() as session:
        session.execute(text("SELECT 1"))  # the database answers
    return HealthOut(status="ok", version=VERSION)


@router.get("/metrics", response_class=Response)
def metrics(request: Request, svc: ServicesDep) -> Response:
    if not svc.settings.metrics_public:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        creds = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) if token else None
        caller = current_caller(request, svc, creds)
        if caller.role != "admin":
            raise Forbidden("metrics need the admin role (or set KB_METRICS_PUBLIC=true)")
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
