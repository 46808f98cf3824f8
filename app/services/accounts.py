"""Users, groups and bearer tokens: password hashing (argon2), login, API tokens, who a token is.

Tokens are random 256-bit strings shown once; only their sha256 is stored, so a leaked database
does not leak usable tokens. Example::

    accounts = Accounts(db)
    accounts.create_user("ana", "a long passphrase", role="agent", groups=["support"])
    token, expires = accounts.login("ana", "a long passphrase")
    user = accounts.resolve(token)
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import ApiToken, Database, Group, LoginFailure, Membership, User, utcnow
from core.errors import ConflictError, KBError, NotFoundError
from core.types import EVERYONE, Principal

ROLES = ("admin", "agent", "employee")
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_hasher = PasswordHasher()
# Verifying against this keeps unknown-user logins as slow as wrong-password ones (no user probing).
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AuthError(KBError):
    """Missing, unknown, expired or revoked credentials."""


class TooManyAttempts(AuthError):
    """Too many failed sign-ins for one username in a short window."""


class LoginThrottle:
    """Refuses sign-in for a username after ``limit`` failures within ``window`` seconds, which turns
    online password guessing into a crawl. Failures are rows in the shared database, so every API
    replica counts the same ones."""

    def __init__(self, db: Database, limit: int = 5, window: float = 300.0) -> None:
        self.db = db
        self.limit, self.window = limit, window

    def check(self, username: str) -> None:
        since = utcnow() - timedelta(seconds=self.window)
        with self.db.session() as session:
            recent = session.scalars(
                select(LoginFailure.at)
                .where(LoginFailure.username == username[:128], LoginFailure.at >= since)
                .order_by(LoginFailure.at)
                .limit(self.limit)
            ).all()
        if len(recent) >= self.limit:
            first = recent[0] if recent[0].tzinfo else recent[0].replace(tzinfo=UTC)
            wait = int(self.window - (utcnow() - first).total_seconds()) + 1
            raise TooManyAttempts(f"too many failed sign-ins for {username!r}; try again in {wait} s")

    def failed(self, username: str) -> None:
        with self.db.session() as session:
            session.add(LoginFailure(username=username[:128]))
            # Old rows are pruned as new ones arrive, so a username-spraying attack stays bounded in time.
            cutoff = utcnow() - timedelta(seconds=self.window)
            session.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))

    def succeeded(self, username: str) -> None:
        with self.db.session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.username == username[:128]))


class InvalidInput(KBError, ValueError):
    """A username, group name, role or password that cannot be accepted."""


@dataclass(frozen=True)
class Caller:
    """The authenticated user behind a request."""

    id: str
    username: str
    role: str
    groups: tuple[str, ...]
    token_id: str
    token_kind: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def principal(self) -> Principal:
        return Principal(user_id=self.id, groups=frozenset(self.groups), admin=self.is_admin)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name or ""):
        raise InvalidInput(
            f"invalid {what} {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a "
            "letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"password too short: use at least {MIN_PASSWORD} characters")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


class Accounts:
    """Account and token bookkeeping over the SQL database."""

    def __init__(self, db: Database, session_hours: float = 12.0) -> None:
        self.db = db
        self.session_hours = session_hours

    # ---------------------------------------------------------------- users and groups
    def create_user(
        self, username: str, password: str, role: str = "employee", groups: list[str] | None = None
    ) -> User:
        check_name(username, "username")
        check_password(password)
        check_role(role)
        with self.db.session() as session:
            if session.scalar(select(User).where(User.username == username)):
                raise ConflictError(f"user {username!r} already exists")
            user = User(username=username, password_hash=_hasher.hash(password), role=role)
            session.add(user)
            session.flush()
            self._set_groups(session, user, groups or [])
            session.flush()
            session.refresh(user)
            return user

    def update_user(
        self,
        user_id: str,
        *,
        role: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        groups: list[str] | None = None,
    ) -> User:
        with self.db.session() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFoundError(f"user {user_id} does not exist")
            if role is not None:
                user.role = check_role(role)
            if password is not None:
                user.password_hash = _hasher.hash(check_password(password))
            if disabled is not None:
                user.disabled = disabled
            if disabled or password is not None:
                # A disabled account or a new password ends every session at once.
                session.execute(
                    delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == "session")
                )
            if groups is not None:
                self._set_groups(session, user, groups)
            session.flush()
            session.refresh(user)
            return user

    def access_groups(self, groups: list[str], *, allow_everyone: bool) -> list[str]:
        """Existing group names, sorted. A base may list ``everyone``; on a document it means "no
        narrowing", i.e. an empty list."""
        named = self.require_groups(groups)
        return sorted([*named, EVERYONE]) if allow_everyone and EVERYONE in groups else named

    def require_groups(self, groups: list[str], session: Session | None = None) -> list[str]:
        """The named groups (sorted, without the built-in ``everyone``); NotFoundError naming any that
        do not exist."""
        wanted = {check_name(g, "group") for g in groups} - {EVERYONE}
        if session is None:
            with self.db.session() as own:
                return self.require_groups(groups, own)
        known = set(session.scalars(select(Group.name).where(Group.name.in_(wanted))).all())
        missing = sorted(wanted - known)
        if missing:
            raise NotFoundError(f"group(s) {', '.join(missing)} do not exist; create them first")
        return sorted(wanted)

    def _set_groups(self, session: Session, user: User, groups: list[str]) -> None:
        wanted = set(self.require_groups(groups, session))
        user.memberships = [m for m in user.memberships if m.group_name in wanted]
        have = {m.group_name for m in user.memberships}
        user.memberships.extend(Membership(user_id=user.id, group_name=g) for g in sorted(wanted - have))

    def get_user(self, user_id: str) -> User:
        with self.db.session() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFoundError(f"user {user_id} does not exist")
            return user

    def list_users(self) -> list[User]:
        with self.db.session() as session:
            return list(session.scalars(select(User).order_by(User.username)).all())

    def create_group(self, name: str) -> str:
        check_name(name, "group")
        if name == EVERYONE:
            raise InvalidInput(f"{EVERYONE!r} is built in: every signed-in user is a member")
        with self.db.session() as session:
            if session.get(Group, name) is not None:
                raise ConflictError(f"group {name!r} already exists")
            session.add(Group(name=name))
        return name

    def delete_group(self, name: str) -> None:
        with self.db.session() as session:
            group = session.get(Group, name)
            if group is None:
                raise NotFoundError(f"group {name!r} does not exist")
            session.execute(delete(Membership).where(Membership.group_name == name))
            session.delete(group)

    def list_groups(self) -> list[dict[str, object]]:
        with self.db.session() as session:
            names = session.scalars(select(Group.name).order_by(Group.name)).all()
            members = session.execute(
                select(Membership.group_name, User.username).join(User, User.id == Membership.user_id)
            ).all()
        by_group: dict[str, list[str]] = {n: [] for n in names}
        for group, username in members:
            by_group.setdefault(group, []).append(username)
        return [{"name": n, "members": sorted(by_group[n])} for n in names]

    def has_admin(self) -> bool:
        with self.db.session() as session:
            return session.scalar(select(User.id).where(User.role == "admin").limit(1)) is not None

    # ---------------------------------------------------------------- tokens
    def login(self, username: str, password: str) -> tuple[str, datetime, User]:
        """A new session token for valid credentials; the same error for every failure."""
        with self.db.session() as session:
            user = session.scalar(select(User).where(User.username == username))
            try:
                _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                user = None
            if user is None or user.disabled:
                raise AuthError("wrong username or password, or the account is disabled")
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            expires = utcnow() + timedelta(hours=self.session_hours)
            token = self._issue(session, user.id, "session", "login", expires)
            return token, expires, user

    def create_api_token(self, user_id: str, name: str, expires_days: int | None) -> tuple[str, ApiToken]:
        expires = utcnow() + timedelta(days=expires_days) if expires_days else None
        with self.db.session() as session:
            token = self._issue(session, user_id, "api", name[:128], expires)
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
            return token, row

    def _issue(self, session: Session, user_id: str, kind: str, name: str, expires: datetime | None) -> str:
        token = ("kbt_" if kind == "api" else "kbs_") + secrets.token_urlsafe(32)
        session.add(
            ApiToken(
                user_id=user_id, token_hash=token_digest(token), kind=kind, name=name, expires_at=expires
            )
        )
        return token

    def list_tokens(self, user_id: str) -> list[ApiToken]:
        with self.db.session() as session:
            query = (
                select(ApiToken)
                .where(ApiToken.user_id == user_id, ApiToken.kind == "api")
                .order_by(ApiToken.created_at.desc())
            )
            return list(session.scalars(query).all())

    def revoke(self, user_id: str, token_id: str) -> None:
        with self.db.session() as session:
            row = session.get(ApiToken, token_id)
            if row is None or row.user_id != user_id:
                raise NotFoundError(f"token {token_id} does not exist")
            row.revoked_at = row.revoked_at or utcnow()

    def logout(self, token_id: str) -> None:
        with self.db.session() as session:
            session.execute(delete(ApiToken).where(ApiToken.id == token_id))

    def resolve(self, token: str) -> Caller:
        """The caller a bearer token belongs to, or AuthError."""
        if not token or len(token) > 256:
            raise AuthError("missing or malformed bearer token; sign in with POST /auth/login")
        now = utcnow()
        with self.db.session() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
            if row is None or row.revoked_at is not None:
                raise AuthError("unknown or revoked token; sign in again or create a new API token")
            if row.expires_at is not None and _aware(row.expires_at) <= now:
                raise AuthError("token expired; sign in again with POST /auth/login")
            user = session.get(User, row.user_id)
            if user is None or user.disabled:
                raise AuthError("the account behind this token is disabled; ask an admin")
            if row.last_used_at is None or now - _aware(row.last_used_at) > timedelta(minutes=1):
                row.last_used_at = now  # throttled so every request is not a write
            return Caller(user.id, user.username, user.role, tuple(user.groups), row.id, row.kind)


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; they are stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
