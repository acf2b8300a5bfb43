from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.dispatch.models import BatchState, OutboxBatch
from municipal_node.relay.models import NoticeState, StoredNotice


async def notices_to_plan(session: AsyncSession, tenant_code: str) -> list[int]:
    result = await session.scalars(
        select(StoredNotice.id)
        .where(StoredNotice.tenant_code == tenant_code, StoredNotice.state == NoticeState.STORED)
        .order_by(StoredNotice.seq)
    )
    return list(result)


async def get_notice(session: AsyncSession, notice_pk: int) -> StoredNotice | None:
    return await session.get(StoredNotice, notice_pk)


async def find_notice(
    session: AsyncSession, tenant_code: str, publisher: str, notice_id: str
) -> StoredNotice | None:
    return await session.scalar(
        select(StoredNotice).where(
            StoredNotice.tenant_code == tenant_code,
            StoredNotice.publisher == publisher,
            StoredNotice.notice_id == notice_id,
        )
    )


async def move_notice(
    session: AsyncSession,
    notice_pk: int,
    *,
    from_states: tuple[str, ...],
    to_state: str,
    now: datetime,
    reason: str | None = None,
    targeted: int | None = None,
) -> bool:
    """Conditional state change; False when the notice was not in ``from_states``."""
    values: dict[str, Any] = {"state": to_state, "updated_at": now}
    if reason is not None:
        values["state_reason"] = reason
    if targeted is not None:
        values["targeted"] = targeted
    result = await session.execute(
        update(StoredNotice)
        .where(StoredNotice.id == notice_pk, StoredNotice.state.in_(from_states))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def insert_batches(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(OutboxBatch), rows)


async def claim_pending(
    session: AsyncSession, tenant_code: str, *, skip: tuple[int, ...] = ()
) -> OutboxBatch | None:
    """The oldest pending batch, locked (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so several
    dispatchers share the work; SQLite ignores the clause and runs one dispatcher)."""
    query = (
        select(OutboxBatch)
        .where(OutboxBatch.tenant_code == tenant_code, OutboxBatch.state == BatchState.PENDING)
        .order_by(OutboxBatch.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if skip:
        query = query.where(OutboxBatch.id.not_in(skip))
    return await session.scalar(query)


async def pending_count(
    session: AsyncSession, tenant_code: str, publisher: str, notice_id: str
) -> int:
    value = await session.scalar(
        select(func.count())
        .select_from(OutboxBatch)
        .where(
            OutboxBatch.tenant_code == tenant_code,
            OutboxBatch.publisher == publisher,
            OutboxBatch.notice_id == notice_id,
            OutboxBatch.state == BatchState.PENDING,
        )
    )
    return int(value or 0)


async def batches_of(
    session: AsyncSession, tenant_code: str, publisher: str, notice_id: str
) -> list[OutboxBatch]:
    result = await session.scalars(
        select(OutboxBatch)
        .where(
            OutboxBatch.tenant_code == tenant_code,
            OutboxBatch.publisher == publisher,
            OutboxBatch.notice_id == notice_id,
        )
        .order_by(OutboxBatch.batch_no)
    )
    return list(result)


async def has_pending(session: AsyncSession, tenant_code: str) -> bool:
    value = await session.scalar(
        select(OutboxBatch.id)
        .where(OutboxBatch.tenant_code == tenant_code, OutboxBatch.state == BatchState.PENDING)
        .limit(1)
    )
    return value is not None
