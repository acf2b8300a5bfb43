"""Every query on staff tables. Queries reached from a tenant's path take ``tenant_code``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.staff.models import StaffRole, StaffSession, StaffUser


async def user_by_username(session: AsyncSession, username: str) -> StaffUser | None:
    return await session.scalar(select(StaffUser).where(StaffUser.username == username))


async def add_user(session: AsyncSession, user: StaffUser) -> None:
    session.add(user)
    await session.flush()


async def tenant_member(
    session: AsyncSession, *, tenant_code: str, username: str
) -> tuple[StaffUser, StaffRole] | None:
    """The staff member ``username`` with their role on ``tenant_code``; None if they hold none."""
    row = (
        await session.execute(
            select(StaffUser, StaffRole)
            .join(StaffRole, StaffRole.staff_id == StaffUser.id)
            .where(StaffRole.tenant_code == tenant_code, StaffUser.username == username)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def tenant_members(
    session: AsyncSession, *, tenant_code: str
) -> list[tuple[StaffUser, StaffRole]]:
    rows = await session.execute(
        select(StaffUser, StaffRole)
        .join(StaffRole, StaffRole.staff_id == StaffUser.id)
        .where(StaffRole.tenant_code == tenant_code)
        .order_by(StaffUser.username)
    )
    return [(user, role) for user, role in rows.all()]


async def roles_of(session: AsyncSession, staff_id: int) -> dict[str, str]:
    rows = await session.execute(
        select(StaffRole.tenant_code, StaffRole.role)
        .where(StaffRole.staff_id == staff_id)
        .order_by(StaffRole.tenant_code)
    )
    return {str(tenant): str(role) for tenant, role in rows.all()}


async def role_on(session: AsyncSession, *, staff_id: int, tenant_code: str) -> StaffRole | None:
    return await session.get(StaffRole, (staff_id, tenant_code))


async def add_role(session: AsyncSession, *, staff_id: int, tenant_code: str, role: str) -> None:
    session.add(StaffRole(staff_id=staff_id, tenant_code=tenant_code, role=role))
    await session.flush()


async def delete_role(session: AsyncSession, *, staff_id: int, tenant_code: str) -> None:
    await session.execute(
        delete(StaffRole).where(
            StaffRole.staff_id == staff_id, StaffRole.tenant_code == tenant_code
        )
    )


async def add_session(session: AsyncSession, row: StaffSession) -> None:
    session.add(row)
    await session.flush()


async def live_session(
    session: AsyncSession, *, token_sha256: str, now: datetime
) -> tuple[StaffSession, StaffUser] | None:
    """The unrevoked, unexpired session of an active staff member; None otherwise."""
    row = (
        await session.execute(
            select(StaffSession, StaffUser)
            .join(StaffUser, StaffUser.id == StaffSession.staff_id)
            .where(
                StaffSession.token_sha256 == token_sha256,
                StaffSession.revoked_at.is_(None),
                StaffSession.expires_at > now,
                StaffUser.active.is_(True),
            )
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def revoke_session(session: AsyncSession, *, token_sha256: str, now: datetime) -> None:
    await session.execute(
        update(StaffSession)
        .where(StaffSession.token_sha256 == token_sha256, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_sessions(
    session: AsyncSession, *, staff_id: int, now: datetime, keep: str | None = None
) -> None:
    """Revoke every live session of the staff member except ``keep`` (a token digest)."""
    query = update(StaffSession).where(
        StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(StaffSession.token_sha256 != keep)
    await session.execute(query.values(revoked_at=now))


async def delete_dead_sessions(session: AsyncSession, *, staff_id: int, now: datetime) -> None:
    """Forget the staff member's expired or revoked sessions (housekeeping at sign-in)."""
    await session.execute(
        delete(StaffSession).where(
            StaffSession.staff_id == staff_id,
            (StaffSession.expires_at <= now) | StaffSession.revoked_at.is_not(None),
        )
    )


async def count_failed_login(session: AsyncSession, *, staff_id: int) -> int:
    """Add one consecutive failure (atomically) and return the new count."""
    await session.execute(
        update(StaffUser)
        .where(StaffUser.id == staff_id)
        .values(failed_logins=StaffUser.failed_logins + 1)
        .execution_options(synchronize_session=False)
    )
    count = await session.scalar(
        select(func.coalesce(StaffUser.failed_logins, 0)).where(StaffUser.id == staff_id)
    )
    return int(count or 0)


async def set_lock(
    session: AsyncSession, *, staff_id: int, locked_until: datetime | None, now: datetime
) -> None:
    """Lock until ``locked_until`` (None: unlock) and restart the failure count."""
    await session.execute(
        update(StaffUser)
        .where(StaffUser.id == staff_id)
        .values(failed_logins=0, locked_until=locked_until, updated_at=now)
        .execution_options(synchronize_session=False)
    )
