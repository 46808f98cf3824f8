"""Request dependencies: the app context, the authenticated caller, and role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.problems import Forbidden
from app.api.services import Services
from app.services.accounts import AuthError, Caller

_bearer = HTTPBearer(auto_error=False, description="Session token from /auth/login or an API token")


def services(request: Request) -> Services:
    """The services ``create_app`` put on the application."""
    built: Services = request.app.state.services
    return built


ServicesDep = Annotated[Services, Depends(services)]


def current_caller(
    request: Request,
    svc: ServicesDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if creds is None or not creds.credentials:
        raise AuthError(
            "missing bearer token; sign in with POST /auth/login and send 'Authorization: Bearer …'"
        )
    try:
        caller = svc.accounts.resolve(creds.credentials)
    except AuthError as exc:
        svc.audit.record(None, "auth.token_rejected", request.url.path, "denied", reason=str(exc))
        raise
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def require_role(*roles: str) -> Callable[[Request, Caller, Services], Caller]:
    """A dependency that lets only callers with one of ``roles`` through (403 otherwise)."""

    def check(request: Request, caller: CallerDep, svc: ServicesDep) -> Caller:
        if caller.role not in roles:
            svc.audit.record(
                caller.username, "access.denied", f"{request.method} {request.url.path}", "denied"
            )
            raise Forbidden(f"this needs the {' or '.join(roles)} role; your role is {caller.role}")
        return caller

    return check


AdminDep = Annotated[Caller, Depends(require_role("admin"))]
