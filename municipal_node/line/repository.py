from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.db.upsert import insert_for
from municipal_node.line.models import LineFriend, LineWebhookEvent


async def remember_events(
    session: AsyncSession,
    *,
    tenant_code: str,
    events: Sequence[tuple[str, str]],
    received_at: datetime,
) -> set[str]:
    """Record (webhook_event_id, type) pairs in one statement; return the ids not seen before."""
    if not events:
        return set()
    stmt = (
        insert_for(session, LineWebhookEvent)
        .values(
            [
                {
                    "tenant_code": tenant_code,
                    "webhook_event_id": event_id,
                    "event_type": event_type[:32],
                    "received_at": received_at,
                }
                for event_id, event_type in events
            ]
        )
        .on_conflict_do_nothing(index_elements=["tenant_code", "webhook_event_id"])
        .returning(LineWebhookEvent.webhook_event_id)
    )
    return set((await session.scalars(stmt)).all())


async def set_friendships(
    session: AsyncSession,
    *,
    tenant_code: str,
    changes: Mapping[str, tuple[bool, int]],
    now: datetime,
) -> None:
    """Upsert ``{user_id: (is_friend, event_ms)}`` in one statement; an event older than the
    one already applied does not overwrite it."""
    if not changes:
        return
    stmt = insert_for(session, LineFriend).values(
        [
            {
                "tenant_code": tenant_code,
                "user_id": user_id,
                "is_friend": is_friend,
                "last_event_ms": event_ms,
                "updated_at": now,
            }
            for user_id, (is_friend, event_ms) in changes.items()
        ]
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_code", "user_id"],
        set_={
            "is_friend": stmt.excluded.is_friend,
            "last_event_ms": stmt.excluded.last_event_ms,
            "updated_at": stmt.excluded.updated_at,
        },
        where=LineFriend.last_event_ms <= stmt.excluded.last_event_ms,
    )
    await session.execute(stmt)


async def current_friends(
    session: AsyncSession, tenant_code: str, user_ids: Sequence[str]
) -> set[str]:
    if not user_ids:
        return set()
    result = await session.scalars(
        select(LineFriend.user_id).where(
            LineFriend.tenant_code == tenant_code,
            LineFriend.user_id.in_(user_ids),
            LineFriend.is_friend.is_(True),
        )
    )
    return set(result)


async def friendship(session: AsyncSession, tenant_code: str, user_id: str) -> bool | None:
    value = await session.scalar(
        select(LineFriend.is_friend).where(
            LineFriend.tenant_code == tenant_code, LineFriend.user_id == user_id
        )
    )
    return None if value is None else bool(value)
