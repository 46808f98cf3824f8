"""Errors as HTTP status codes with application/problem+json bodies that say what to do."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.capacity import GenerationBusy
from app.services.accounts import AuthError, InvalidInput, TooManyAttempts
from core.errors import (
    ConfigError,
    ConflictError,
    FileTooLargeError,
    KBError,
    LoaderError,
    NotFoundError,
    StorageError,
    UnsupportedFormatError,
)
from generation.backends.base import BackendConnectionError, GenerationError, ModelNotAvailableError

log = logging.getLogger("kb.api")
PROBLEM = "application/problem+json"


class Forbidden(KBError):
    """The caller is known but their role does not allow this route."""


class PayloadTooLarge(KBError):
    """An upload exceeds the configured limits."""


class UnsupportedMedia(KBError):
    """An upload's type is not one the loaders read."""


# Most specific first: the first matching class decides the status.
STATUS: list[tuple[type[BaseException], int]] = [
    (TooManyAttempts, 429),
    (AuthError, 401),
    (Forbidden, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PayloadTooLarge, 413),
    (FileTooLargeError, 413),
    (UnsupportedMedia, 415),
    (UnsupportedFormatError, 415),
    (InvalidInput, 400),
    (LoaderError, 400),
    (GenerationBusy, 503),
    (BackendConnectionError, 503),
    (ModelNotAvailableError, 503),
    (ConfigError, 503),
    (StorageError, 507),
    (GenerationError, 502),
    (KBError, 400),
    (ValueError, 400),
]

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    507: "Insufficient Storage",
}


def status_for(exc: BaseException) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "detail": detail}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({**body, **extra}, status_code=status, media_type=PROBLEM, headers=headers)


def problem_body(exc: BaseException) -> dict[str, Any]:
    """The problem object for an error raised while streaming (sent as an SSE ``error`` event)."""
    status = status_for(exc)
    detail = str(exc) if status < 500 or isinstance(exc, KBError) else "internal error; see the server log"
    return {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "detail": detail}


def install(app: FastAPI) -> None:
    @app.exception_handler(KBError)
    async def _kb_error(_request: Request, exc: KBError) -> JSONResponse:
        response = problem(status_for(exc), str(exc))
        if isinstance(exc, GenerationBusy):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(ValueError)
    async def _value_error(_request: Request, exc: ValueError) -> JSONResponse:
        return problem(400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        return problem(exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"invalid request: {'.'.join(first['loc'])}: {first['msg']}; fix the request body and retry"
        return problem(422, detail, errors=errors)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal error; the server log has the details")
