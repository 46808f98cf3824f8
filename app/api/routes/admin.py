"""Admin views: feedback review, the audit log, and evaluation runs on an uploaded Q&A file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile

from app.api.deps import AdminDep, ServicesDep
from app.services.evaluation import evaluate_file

router = APIRouter(tags=["admin"])


@router.get("/feedback")
def list_feedback(
    _: AdminDep, svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    return svc.feedback.latest(limit)


@router.get("/audit")
def list_audit(
    _: AdminDep,
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    return svc.audit.list(limit, action)


@router.post("/kbs/{name}/eval")
def evaluate(
    name: str,
    caller: AdminDep,
    svc: ServicesDep,
    file: Annotated[UploadFile, File(description="JSONL: {question, answer} or {query, relevant}")],
    kind: Annotated[Literal["answers", "retrieval"], Form()] = "answers",
    limit: Annotated[int, Form(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    svc.bases.get(name)  # 404 before the file is read
    limit = min(limit, svc.settings.eval_max_questions)
    data = file.file.read(5 * 1024 * 1024 + 1)
    if len(data) > 5 * 1024 * 1024:
        raise ValueError("the Q&A file is larger than 5 MiB; evaluate a sample")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "qa.jsonl"
        path.write_bytes(data)
        result = evaluate_file(svc.ctx, name, path, kind, limit, caller.principal())
    svc.audit.record(caller.username, "eval.run", name, kind=kind, questions=len(result["per_question"]))
    return result
