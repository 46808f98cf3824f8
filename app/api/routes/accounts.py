"""Sign-in, the caller's own tokens, and (admin) users and groups."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.deps import AdminDep, CallerDep, ServicesDep
from app.api.schemas import (
    GroupIn,
    GroupOut,
    LoginIn,
    LoginOut,
    NewTokenOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
)
from app.services.accounts import AuthError, TooManyAttempts

router = APIRouter()


@router.post("/auth/login", response_model=LoginOut, tags=["auth"])
def login(body: LoginIn, request: Request, svc: ServicesDep) -> LoginOut:
    client = request.client.host if request.client else None
    try:
        svc.login_throttle.check(body.username)
        token, expires, user = svc.accounts.login(body.username, body.password)
    except TooManyAttempts as exc:
        svc.audit.record(body.username[:64], "auth.login", body.username[:64], "denied", reason=str(exc))
        raise
    except AuthError:
        svc.login_throttle.failed(body.username)
        svc.audit.record(body.username[:64], "auth.login", body.username[:64], "denied", client=client)
        raise
    svc.login_throttle.succeeded(body.username)
    svc.audit.record(user.username, "auth.login", user.username, client=client)
    return LoginOut(access_token=token, expires_at=expires, user=UserOut.of(user))


@router.post("/auth/logout", status_code=204, tags=["auth"])
def logout(caller: CallerDep, svc: ServicesDep) -> Response:
    if caller.token_kind == "session":
        svc.accounts.logout(caller.token_id)
    svc.audit.record(caller.username, "auth.logout", caller.username)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut, tags=["auth"])
def me(caller: CallerDep, svc: ServicesDep) -> UserOut:
    return UserOut.of(svc.accounts.get_user(caller.id))


@router.get("/me/tokens", response_model=list[TokenOut], tags=["auth"])
def list_tokens(caller: CallerDep, svc: ServicesDep) -> list[TokenOut]:
    return [
        TokenOut(
            id=t.id,
            name=t.name,
            created_at=t.created_at,
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
            revoked=t.revoked_at is not None,
        )
        for t in svc.accounts.list_tokens(caller.id)
    ]


@router.post("/me/tokens", response_model=NewTokenOut, status_code=201, tags=["auth"])
def create_token(body: TokenIn, caller: CallerDep, svc: ServicesDep) -> NewTokenOut:
    token, row = svc.accounts.create_api_token(caller.id, body.name, body.expires_days)
    svc.audit.record(caller.username, "token.create", row.id, name=body.name)
    return NewTokenOut(id=row.id, name=row.name, token=token, expires_at=row.expires_at)


@router.delete("/me/tokens/{token_id}", status_code=204, tags=["auth"])
def revoke_token(token_id: str, caller: CallerDep, svc: ServicesDep) -> Response:
    svc.accounts.revoke(caller.id, token_id)
    svc.audit.record(caller.username, "token.revoke", token_id)
    return Response(status_code=204)


@router.get("/users", response_model=list[UserOut], tags=["admin"])
def list_users(_: AdminDep, svc: ServicesDep) -> list[UserOut]:
    return [UserOut.of(u) for u in svc.accounts.list_users()]


@router.post("/users", response_model=UserOut, status_code=201, tags=["admin"])
def create_user(body: UserIn, caller: AdminDep, svc: ServicesDep) -> UserOut:
    user = svc.accounts.create_user(body.username, body.password, body.role, body.groups)
    svc.audit.record(caller.username, "user.create", user.username, role=user.role, groups=user.groups)
    return UserOut.of(user)


@router.patch("/users/{user_id}", response_model=UserOut, tags=["admin"])
def update_user(user_id: str, body: UserPatch, caller: AdminDep, svc: ServicesDep) -> UserOut:
    if user_id == caller.id and (body.disabled or (body.role and body.role != "admin")):
        raise ValueError("you cannot disable or demote yourself; ask another admin")
    user = svc.accounts.update_user(
        user_id, role=body.role, disabled=body.disabled, password=body.password, groups=body.groups
    )
    changes = body.model_dump(exclude_none=True, exclude={"password"})
    if body.password is not None:
        changes["password"] = "changed"
    svc.audit.record(caller.username, "user.update", user.username, **changes)
    return UserOut.of(user)


@router.get("/groups", response_model=list[GroupOut], tags=["admin"])
def list_groups(_: AdminDep, svc: ServicesDep) -> list[GroupOut]:
    return [GroupOut.model_validate(g) for g in svc.accounts.list_groups()]


@router.post("/groups", response_model=GroupOut, status_code=201, tags=["admin"])
def create_group(body: GroupIn, caller: AdminDep, svc: ServicesDep) -> GroupOut:
    name = svc.accounts.create_group(body.name)
    svc.audit.record(caller.username, "group.create", name)
    return GroupOut(name=name, members=[])


@router.delete("/groups/{name}", status_code=204, tags=["admin"])
def delete_group(name: str, caller: AdminDep, svc: ServicesDep) -> Response:
    svc.accounts.delete_group(name)
    svc.audit.record(caller.username, "group.delete", name)
    return Response(status_code=204)
