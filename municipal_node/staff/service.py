"""Managing staff accounts: the rules behind ``/api/tenants/{code}/staff`` and the CLI.

``by`` is who acts: a staff admin of the tenant, or the operator (``roles is None``: the
operator token, or the CLI). A tenant's admin sees and changes only staff who hold a role on
that tenant. Disabling a staff member or resetting their password reaches every tenant they
work for, so it needs admin on all of them. Nobody changes their own role or active flag
through the API (no accidental self-lockout).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.api.auth import ALL_ROLES, Principal, Role
from municipal_node.audit.repository import record
from municipal_node.staff import passwords
from municipal_node.staff import repository as repo
from municipal_node.staff.errors import StaffError, unknown_staff, unknown_tenant
from municipal_node.staff.models import StaffRole, StaffUser
from municipal_node.tenants import repository as tenants


@dataclass(frozen=True)
class StaffView:
    username: str
    display_name: str
    role: str
    active: bool
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime


def _view(user: StaffUser, role: StaffRole | str) -> StaffView:
    return StaffView(
        username=user.username,
        display_name=user.display_name,
        role=role if isinstance(role, str) else role.role,
        active=user.active,
        locked_until=user.locked_until,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def check_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        names = ", ".join(str(role) for role in ALL_ROLES)
        raise StaffError(
            "BAD_ROLE", f"権限は {names} のいずれかです / role must be one of {names}"
        ) from None


async def _require_tenant(session: AsyncSession, tenant_code: str) -> None:
    if await tenants.get(session, tenant_code) is None:
        raise unknown_tenant(tenant_code)


async def _member(
    session: AsyncSession, *, tenant_code: str, username: str
) -> tuple[StaffUser, StaffRole]:
    found = await repo.tenant_member(
        session, tenant_code=tenant_code, username=passwords.normalize_username(username)
    )
    if found is None:
        raise unknown_staff()
    return found


def _not_self(by: Principal, user: StaffUser) -> None:
    if by.staff_id is not None and by.staff_id == user.id:
        raise StaffError(
            "SELF_CHANGE",
            "自分自身の権限・有効状態は変更できません。別の管理者に依頼してください / "
            "you cannot change your own role or status",
            409,
        )


async def _require_admin_everywhere(session: AsyncSession, by: Principal, user: StaffUser) -> None:
    """Account-wide changes need admin on every tenant the staff member works for."""
    for tenant_code in await repo.roles_of(session, user.id):
        if not by.may(tenant_code, (Role.ADMIN,)):
            raise StaffError(
                "SHARED_STAFF",
                "この職員は他の自治体でも権限を持つため、この操作はできません（この自治体の権限の"
                "削除はできます） / this staff member also works for another tenant; only its "
                "role here can be removed",
                409,
            )


async def _audit(
    session: AsyncSession,
    *,
    tenant_code: str | None,
    by: Principal,
    action: str,
    now: datetime,
    detail: dict[str, str | bool],
) -> None:
    await record(
        session,
        tenant_code=tenant_code,
        actor=by.actor,
        action=action,
        at=now,
        count=1,
        detail=dict(detail),
    )


async def list_staff(session: AsyncSession, *, tenant_code: str) -> list[StaffView]:
    await _require_tenant(session, tenant_code)
    return [
        _view(user, role)
        for user, role in await repo.tenant_members(session, tenant_code=tenant_code)
    ]


async def create_staff(
    session: AsyncSession,
    *,
    hasher: PasswordHasher,
    tenant_code: str,
    username: str,
    display_name: str,
    password: str,
    role: str,
    by: Principal,
    now: datetime,
) -> StaffView:
    name = passwords.check_username(username)
    shown = passwords.check_display_name(display_name)
    held = check_role(role)
    passwords.check_password(password, username=name)
    await _require_tenant(session, tenant_code)
    if await repo.user_by_username(session, name) is not None:
        raise _taken(name)
    user = StaffUser(
        username=name,
        display_name=shown,
        password_hash=await passwords.hash_password(hasher, password),
        active=True,
        failed_logins=0,
        locked_until=None,
        created_at=now,
        updated_at=now,
    )
    try:
        await repo.add_user(session, user)
    except IntegrityError as exc:  # a concurrent create of the same name
        raise _taken(name) from exc
    await repo.add_role(session, staff_id=user.id, tenant_code=tenant_code, role=held)
    await _audit(
        session,
        tenant_code=tenant_code,
        by=by,
        action="staff.created",
        now=now,
        detail={"username": name, "role": str(held)},
    )
    return _view(user, str(held))


def _taken(name: str) -> StaffError:
    return StaffError(
        "USERNAME_TAKEN", f"ユーザー名 {name} は既に使われています / username already taken", 409
    )


async def update_staff(
    session: AsyncSession,
    *,
    tenant_code: str,
    username: str,
    role: str | None,
    active: bool | None,
    by: Principal,
    now: datetime,
) -> StaffView:
    """Change the role on this tenant and/or the account's active flag (disabling ends every
    session of the account)."""
    if role is None and active is None:
        raise StaffError(
            "NOTHING_TO_CHANGE", "変更内容がありません（role か active） / give role or active"
        )
    held = None if role is None else check_role(role)
    await _require_tenant(session, tenant_code)
    user, current = await _member(session, tenant_code=tenant_code, username=username)
    _not_self(by, user)
    if active is not None and active != user.active:
        await _require_admin_everywhere(session, by, user)
    if held is not None and held != current.role:
        before = current.role
        current.role = held
        user.updated_at = now
        await _audit(
            session,
            tenant_code=tenant_code,
            by=by,
            action="staff.role_changed",
            now=now,
            detail={"username": user.username, "from": before, "to": str(held)},
        )
    if active is not None and active != user.active:
        await _set_active(
            session, user=user, active=active, tenant_code=tenant_code, by=by, now=now
        )
    await session.flush()
    return _view(user, current)


async def _set_active(
    session: AsyncSession,
    *,
    user: StaffUser,
    active: bool,
    tenant_code: str | None,
    by: Principal,
    now: datetime,
) -> None:
    user.active = active
    user.updated_at = now
    if active:
        user.failed_logins = 0
        user.locked_until = None
    else:
        await repo.revoke_sessions(session, staff_id=user.id, now=now)
    await _audit(
        session,
        tenant_code=tenant_code,
        by=by,
        action="staff.enabled" if active else "staff.disabled",
        now=now,
        detail={"username": user.username},
    )


async def reset_password(
    session: AsyncSession,
    *,
    hasher: PasswordHasher,
    tenant_code: str,
    username: str,
    password: str,
    by: Principal,
    now: datetime,
) -> None:
    """An admin sets a new password; every session of the account ends and a lock is lifted."""
    await _require_tenant(session, tenant_code)
    user, _ = await _member(session, tenant_code=tenant_code, username=username)
    if by.staff_id is not None and by.staff_id == user.id:
        raise StaffError(
            "SELF_CHANGE",
            "自分のパスワードは POST /api/me/password で現在のパスワードと共に変更してください / "
            "change your own password with POST /api/me/password",
            409,
        )
    await _require_admin_everywhere(session, by, user)
    passwords.check_password(password, username=user.username)
    user.password_hash = await passwords.hash_password(hasher, password)
    user.failed_logins = 0
    user.locked_until = None
    user.updated_at = now
    await repo.revoke_sessions(session, staff_id=user.id, now=now)
    await _audit(
        session,
        tenant_code=tenant_code,
        by=by,
        action="staff.password_reset",
        now=now,
        detail={"username": user.username},
    )


async def remove_from_tenant(
    session: AsyncSession, *, tenant_code: str, username: str, by: Principal, now: datetime
) -> None:
    """Take away the role on this tenant. An account left with no role is disabled (its name
    stays reserved so the audit trail keeps meaning one person)."""
    await _require_tenant(session, tenant_code)
    user, _ = await _member(session, tenant_code=tenant_code, username=username)
    _not_self(by, user)
    await repo.delete_role(session, staff_id=user.id, tenant_code=tenant_code)
    await _audit(
        session,
        tenant_code=tenant_code,
        by=by,
        action="staff.removed",
        now=now,
        detail={"username": user.username},
    )
    if not await repo.roles_of(session, user.id) and user.active:
        await _set_active(session, user=user, active=False, tenant_code=tenant_code, by=by, now=now)
    await session.flush()


# --- operator-only operations (the CLI) ------------------------------------------------


async def assign_role(
    session: AsyncSession,
    *,
    tenant_code: str,
    username: str,
    role: str,
    by: Principal,
    now: datetime,
) -> StaffView:
    """Give an existing account a role on a tenant (adding or changing it): how one person comes
    to work for several tenants. Operator only."""
    _operator_only(by)
    held = check_role(role)
    await _require_tenant(session, tenant_code)
    user = await repo.user_by_username(session, passwords.normalize_username(username))
    if user is None:
        raise StaffError("UNKNOWN_STAFF", "その職員はいません / no such staff", 404)
    current = await repo.role_on(session, staff_id=user.id, tenant_code=tenant_code)
    if current is None:
        await repo.add_role(session, staff_id=user.id, tenant_code=tenant_code, role=held)
        before = ""
    else:
        before = current.role
        current.role = held
    user.updated_at = now
    await _audit(
        session,
        tenant_code=tenant_code,
        by=by,
        action="staff.role_changed",
        now=now,
        detail={"username": user.username, "from": before, "to": str(held)},
    )
    await session.flush()
    return _view(user, str(held))


async def set_account_active(
    session: AsyncSession, *, username: str, active: bool, by: Principal, now: datetime
) -> bool:
    """Disable (ending every session) or re-enable (lifting a lock) an account. Operator only.
    False when there was nothing to change."""
    _operator_only(by)
    user = await repo.user_by_username(session, passwords.normalize_username(username))
    if user is None:
        raise StaffError("UNKNOWN_STAFF", "その職員はいません / no such staff", 404)
    if active == user.active and (not active or user.locked_until is None):
        return False
    await _set_active(session, user=user, active=active, tenant_code=None, by=by, now=now)
    await session.flush()
    return True


def _operator_only(by: Principal) -> None:
    if by.roles is not None:
        raise StaffError(
            "FORBIDDEN", "運用者のみの操作です / only the node operator may do this", 403
        )
