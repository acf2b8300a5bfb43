"""Signing staff in and out, and turning a bearer token back into a ``Principal``.

Tokens are ``secrets.token_urlsafe(32)``; only their SHA-256 is stored. Five consecutive
failed sign-ins lock the account for fifteen minutes; the lock is checked before the password
so a locked account gives nothing away to further guesses.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.api.auth import Principal, Role
from municipal_node.audit.repository import record
from municipal_node.staff import passwords
from municipal_node.staff import repository as repo
from municipal_node.staff.errors import StaffError
from municipal_node.staff.models import StaffSession, StaffUser

MAX_FAILED_LOGINS = 5
LOCK_DURATION = timedelta(minutes=15)
_JST = timezone(timedelta(hours=9), "JST")
_MAX_TOKEN = 512


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def staff_actor(username: str) -> str:
    return f"staff:{username}"


def principal_for(user: StaffUser, roles: dict[str, str]) -> Principal:
    return Principal(
        actor=staff_actor(user.username),
        staff_id=user.id,
        roles={tenant: frozenset({Role(role)}) for tenant, role in roles.items()},
    )


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: datetime
    roles: dict[str, str]


def _bad_credentials() -> StaffError:
    return StaffError(
        "BAD_CREDENTIALS",
        "ユーザー名またはパスワードが違います / wrong username or password",
        401,
    )


def _locked(until: datetime) -> StaffError:
    local = until.astimezone(_JST).strftime("%H:%M")
    return StaffError(
        "ACCOUNT_LOCKED",
        f"ログインに{MAX_FAILED_LOGINS}回続けて失敗したため、アカウントを一時的にロックしています。"
        f"{local}（日本時間）以降にもう一度お試しください / account locked after "
        f"{MAX_FAILED_LOGINS} failed sign-ins; try again after {until.isoformat()}",
        423,
    )


def _loggable_username(value: str) -> str:
    """What a failed attempt's audit row may keep: a well-formed username, else a marker (a
    password typed into the username field must not end up in the audit log)."""
    username = passwords.normalize_username(value)
    return username if passwords.USERNAME_RE.fullmatch(username) else "(invalid)"


async def login(
    session: AsyncSession,
    *,
    hasher: PasswordHasher,
    username: str,
    password: str,
    now: datetime,
    session_hours: float,
) -> LoginResult:
    """Check the password and open a session. Raises ``StaffError`` (401 or 423); the caller
    must still commit, so that failure counts and locks stick."""
    name = passwords.normalize_username(username)
    user = await repo.user_by_username(session, name) if len(name) <= 32 else None
    if user is None:
        await passwords.hash_password(hasher, password)  # same cost as a real check
        await _audit_failure(session, username=username, reason="unknown_user", now=now)
        raise _bad_credentials()
    if user.locked_until is not None and user.locked_until > now:
        await _audit_failure(session, username=username, reason="locked", now=now)
        raise _locked(user.locked_until)
    if not await passwords.verify_password(hasher, user.password_hash, password):
        failures = await repo.count_failed_login(session, staff_id=user.id)
        await _audit_failure(session, username=username, reason="wrong_password", now=now)
        if failures >= MAX_FAILED_LOGINS:
            until = now + LOCK_DURATION
            await repo.set_lock(session, staff_id=user.id, locked_until=until, now=now)
            await record(
                session,
                tenant_code=None,
                actor=staff_actor(user.username),
                action="staff.locked",
                at=now,
                count=1,
                detail={"username": user.username, "until": until.isoformat()},
            )
            raise _locked(until)
        raise _bad_credentials()
    if not user.active:
        await _audit_failure(session, username=username, reason="disabled", now=now)
        raise StaffError(
            "ACCOUNT_DISABLED",
            "このアカウントは無効になっています。管理者に連絡してください / account disabled",
            403,
        )
    if user.failed_logins or user.locked_until is not None:
        await repo.set_lock(session, staff_id=user.id, locked_until=None, now=now)
    if passwords.needs_rehash(hasher, user.password_hash):
        user.password_hash = await passwords.hash_password(hasher, password)
        user.updated_at = now
    await repo.delete_dead_sessions(session, staff_id=user.id, now=now)
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=session_hours)
    await repo.add_session(
        session,
        StaffSession(
            token_sha256=token_digest(token),
            staff_id=user.id,
            created_at=now,
            expires_at=expires_at,
        ),
    )
    await record(
        session,
        tenant_code=None,
        actor=staff_actor(user.username),
        action="staff.login",
        at=now,
        count=1,
        detail={"username": user.username},
    )
    return LoginResult(token, expires_at, await repo.roles_of(session, user.id))


async def _audit_failure(
    session: AsyncSession, *, username: str, reason: str, now: datetime
) -> None:
    await record(
        session,
        tenant_code=None,
        actor="anonymous",
        action="staff.login_failed",
        at=now,
        count=1,
        detail={"username": _loggable_username(username), "reason": reason},
    )


async def logout(session: AsyncSession, *, principal: Principal, token: str, now: datetime) -> None:
    if principal.staff_id is None:
        raise StaffError(
            "NOT_STAFF",
            "運用者トークンにはログアウトがありません / the operator token has no session",
            400,
        )
    await repo.revoke_session(session, token_sha256=token_digest(token), now=now)
    await record(
        session,
        tenant_code=None,
        actor=principal.actor,
        action="staff.logout",
        at=now,
        count=1,
        detail={},
    )


async def resolve_principal(session: AsyncSession, token: str, now: datetime) -> Principal | None:
    """The staff principal of a live session (registered with ``api.auth``); None for an
    unknown, expired or revoked token and for a disabled account."""
    if len(token) > _MAX_TOKEN:
        return None
    found = await repo.live_session(session, token_sha256=token_digest(token), now=now)
    if found is None:
        return None
    _, user = found
    return principal_for(user, await repo.roles_of(session, user.id))


async def session_with_user(
    session: AsyncSession, *, token: str, now: datetime
) -> tuple[StaffSession, StaffUser] | None:
    return await repo.live_session(session, token_sha256=token_digest(token), now=now)


async def change_own_password(
    session: AsyncSession,
    *,
    hasher: PasswordHasher,
    principal: Principal,
    token: str,
    current_password: str,
    new_password: str,
    now: datetime,
) -> None:
    """A staff member changes their own password; their other sessions end."""
    if principal.staff_id is None:
        raise StaffError(
            "NOT_STAFF",
            "運用者トークンにはパスワードがありません / the operator token has no password",
            400,
        )
    found = await repo.live_session(session, token_sha256=token_digest(token), now=now)
    if found is None:
        raise StaffError("UNAUTHENTICATED", "ログインが必要です / sign-in required", 401)
    _, user = found
    if not await passwords.verify_password(hasher, user.password_hash, current_password):
        raise StaffError(
            "WRONG_PASSWORD", "現在のパスワードが違います / current password is wrong", 403
        )
    passwords.check_password(new_password, username=user.username)
    if new_password == current_password:
        raise StaffError(
            "SAME_PASSWORD",
            "新しいパスワードが現在のものと同じです / new password equals the current one",
        )
    user.password_hash = await passwords.hash_password(hasher, new_password)
    user.updated_at = now
    await repo.revoke_sessions(session, staff_id=user.id, now=now, keep=token_digest(token))
    await record(
        session,
        tenant_code=None,
        actor=principal.actor,
        action="staff.password_changed",
        at=now,
        count=1,
        detail={"username": user.username},
    )
