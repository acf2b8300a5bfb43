"""Every query of the LINE package: friends, the webhook inbox, friend preferences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.db.upsert import insert_for
from municipal_node.line.models import FriendPreference, InboxState, LineFriend, LineInboxEvent


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


async def store_events(
    session: AsyncSession,
    *,
    tenant_code: str,
    events: Sequence[tuple[str, str, str | None, dict[str, Any]]],
    received_at: datetime,
) -> set[str]:
    """Insert (webhook_event_id, type, user_id, payload) rows as ``pending`` in one statement,
    in the given order; return the ids not seen before (the unique key dedupes)."""
    if not events:
        return set()
    stmt = (
        insert_for(session, LineInboxEvent)
        .values(
            [
                {
                    "tenant_code": tenant_code,
                    "webhook_event_id": event_id,
                    "type": kind[:32],
                    "user_id": user_id,
                    "payload": payload,
                    "received_at": received_at,
                    "state": InboxState.PENDING,
                    "attempts": 0,
                }
                for event_id, kind, user_id, payload in events
            ]
        )
        .on_conflict_do_nothing(index_elements=["tenant_code", "webhook_event_id"])
        .returning(LineInboxEvent.webhook_event_id)
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


# --- inbox -------------------------------------------------------------------------------


async def open_rows(
    session: AsyncSession, tenant_code: str, *, limit: int
) -> list[tuple[int, str | None]]:
    """(id, LINE user id) of rows still to act on (``pending`` or ``replying``), oldest first."""
    result = await session.execute(
        select(LineInboxEvent.id, LineInboxEvent.user_id)
        .where(
            LineInboxEvent.tenant_code == tenant_code,
            LineInboxEvent.state.in_((InboxState.PENDING, InboxState.REPLYING)),
        )
        .order_by(LineInboxEvent.id)
        .limit(limit)
    )
    return [(row_id, user_id) for row_id, user_id in result]


async def get_row(session: AsyncSession, tenant_code: str, row_id: int) -> LineInboxEvent | None:
    return await session.scalar(
        select(LineInboxEvent).where(
            LineInboxEvent.tenant_code == tenant_code, LineInboxEvent.id == row_id
        )
    )


async def claim(session: AsyncSession, tenant_code: str, row_id: int) -> bool:
    """Move a ``pending`` row to ``replying`` (the first write of the acting transaction).
    False when another worker got there first; the caller then does nothing."""
    result = await session.execute(
        update(LineInboxEvent)
        .where(
            LineInboxEvent.tenant_code == tenant_code,
            LineInboxEvent.id == row_id,
            LineInboxEvent.state == InboxState.PENDING,
        )
        .values(state=InboxState.REPLYING)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def finish_acting(
    session: AsyncSession,
    tenant_code: str,
    row_id: int,
    *,
    payload: dict[str, Any] | None,
    reply: dict[str, Any] | None,
    now: datetime,
) -> None:
    """After the effects: keep the reply to send (state stays ``replying``), or mark the row
    ``done`` when there is nothing to send. ``payload`` replaces the stored one (redaction)."""
    values: dict[str, Any] = {"reply": reply}
    if payload is not None:
        values["payload"] = payload
    if reply is None:
        values.update(state=InboxState.DONE, processed_at=now)
    await session.execute(
        update(LineInboxEvent)
        .where(LineInboxEvent.tenant_code == tenant_code, LineInboxEvent.id == row_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def mark(
    session: AsyncSession,
    tenant_code: str,
    row_id: int,
    *,
    state: str,
    now: datetime,
    error: str | None = None,
    count_attempt: bool = False,
) -> None:
    values: dict[str, Any] = {"state": state, "last_error": error}
    if state in (InboxState.DONE, InboxState.FAILED):
        values["processed_at"] = now
    if count_attempt:
        values["attempts"] = LineInboxEvent.attempts + 1
    await session.execute(
        update(LineInboxEvent)
        .where(LineInboxEvent.tenant_code == tenant_code, LineInboxEvent.id == row_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def forget_user_events(session: AsyncSession, tenant_code: str, user_id: str) -> int:
    """Erase on request: blank the payload and user of every stored event of the user and
    close the ones not yet acted on. Returns how many rows were blanked."""
    await session.execute(
        update(LineInboxEvent)
        .where(
            LineInboxEvent.tenant_code == tenant_code,
            LineInboxEvent.user_id == user_id,
            LineInboxEvent.state == InboxState.PENDING,
        )
        .values(state=InboxState.DONE, last_error="erased on request")
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        update(LineInboxEvent)
        .where(LineInboxEvent.tenant_code == tenant_code, LineInboxEvent.user_id == user_id)
        .values(payload={}, user_id=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def delete_closed_before(session: AsyncSession, tenant_code: str, before: datetime) -> int:
    """Retention: delete events acted on (done or failed) before ``before``. Their ids no
    longer dedupe after that, so keep them longer than LINE redelivers (it retries once)."""
    result = await session.execute(
        delete(LineInboxEvent)
        .where(
            LineInboxEvent.tenant_code == tenant_code,
            LineInboxEvent.state.in_((InboxState.DONE, InboxState.FAILED)),
            LineInboxEvent.received_at < before,
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


# --- preferences --------------------------------------------------------------------------


async def preference(
    session: AsyncSession, tenant_code: str, user_id: str
) -> FriendPreference | None:
    return await session.scalar(
        select(FriendPreference).where(
            FriendPreference.tenant_code == tenant_code, FriendPreference.user_id == user_id
        )
    )


async def save_preference(
    session: AsyncSession,
    *,
    tenant_code: str,
    user_id: str,
    topics: list[str],
    stopped: bool,
    declared_sealed: bytes | None,
    now: datetime,
) -> None:
    stmt = insert_for(session, FriendPreference).values(
        tenant_code=tenant_code,
        user_id=user_id,
        topics=topics,
        stopped=stopped,
        declared_sealed=declared_sealed,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_code", "user_id"],
        set_={
            "topics": stmt.excluded.topics,
            "stopped": stmt.excluded.stopped,
            "declared_sealed": stmt.excluded.declared_sealed,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    await session.execute(stmt)


async def delete_preference(session: AsyncSession, tenant_code: str, user_id: str) -> int:
    result = await session.execute(
        delete(FriendPreference)
        .where(FriendPreference.tenant_code == tenant_code, FriendPreference.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)
