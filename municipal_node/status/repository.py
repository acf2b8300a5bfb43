from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.dispatch.models import OutboxBatch
from municipal_node.relay.models import FeedRejection, StoredNotice


async def notices(session: AsyncSession, tenant_code: str) -> list[StoredNotice]:
    result = await session.scalars(
        select(StoredNotice)
        .where(StoredNotice.tenant_code == tenant_code)
        .order_by(StoredNotice.seq)
    )
    return list(result)


BatchCounts = tuple[str, str, str, int, int | None, dict[str, int], dict[str, int] | None]


async def batch_counts(session: AsyncSession, tenant_code: str) -> list[BatchCounts]:
    """Counting columns of every batch of the tenant (not the user ids)."""
    result = await session.execute(
        select(
            OutboxBatch.publisher,
            OutboxBatch.notice_id,
            OutboxBatch.state,
            OutboxBatch.recipient_count,
            OutboxBatch.sent_count,
            OutboxBatch.household_counts,
            OutboxBatch.sent_household_counts,
        ).where(OutboxBatch.tenant_code == tenant_code)
    )
    return [(p, n, s, rc, sc, hh, shh) for p, n, s, rc, sc, hh, shh in result]


async def rejections(session: AsyncSession, tenant_code: str) -> list[FeedRejection]:
    result = await session.scalars(
        select(FeedRejection)
        .where(FeedRejection.tenant_code == tenant_code)
        .order_by(FeedRejection.seq)
    )
    return list(result)
