"""Undoing ID連携 and erasing a friend's data on request (from the chat or by staff)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.audit import repository as audit
from municipal_node.line import repository as line_repository
from municipal_node.linking import repository
from municipal_node.linking.service import LinkingError


async def unlink_user(
    session: AsyncSession, *, tenant_code: str, user_id: str, actor: str, now: datetime
) -> int:
    count = await repository.unlink_user(session, tenant_code, user_id, now)
    if count:
        await audit.record(
            session,
            tenant_code=tenant_code,
            actor=actor,
            action="resident.unlink",
            at=now,
            count=count,
        )
    return count


async def unlink_resident(
    session: AsyncSession, *, tenant_code: str, resident_id: str, actor: str, now: datetime
) -> bool:
    if not await repository.resident_exists(session, tenant_code, resident_id):
        raise LinkingError(404, "UNKNOWN_RESIDENT", "住民が見つかりません / unknown resident")
    count = await repository.unlink_resident(session, tenant_code, resident_id, now)
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="resident.unlink",
        at=now,
        count=count,
    )
    return bool(count)


@dataclass(frozen=True)
class Erased:
    unlinked: int
    preferences: int
    inbox_events: int


async def erase_friend(
    session: AsyncSession, *, tenant_code: str, user_id: str, actor: str, now: datetime
) -> Erased:
    """Erase on request: unlink, delete preferences, nonces and attempts, blank the user's
    stored webhook events. The friendship itself stays (it decides whether LINE may send)."""
    unlinked = await repository.unlink_user(session, tenant_code, user_id, now)
    preferences = await line_repository.delete_preference(session, tenant_code, user_id)
    await repository.forget_user(session, tenant_code, user_id)
    inbox_events = await line_repository.forget_user_events(session, tenant_code, user_id)
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="friend.erase",
        at=now,
        count=1,
        detail={"unlinked": unlinked, "preferences": preferences, "inbox_events": inbox_events},
    )
    return Erased(unlinked, preferences, inbox_events)
