"""Queries of the subscriber side: the seq-ordered feed of accepted notices."""

from __future__ import annotations

from collections.abc import AsyncIterator

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from hub.publishers.models import SEQUENCE_ROW_ID, NoticeSequence, StoredNotice

FEED_YIELD_PER = 200


class FeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def stream_after(self, *, after: int, limit: int) -> AsyncIterator[StoredNotice]:
        """Notices with ``seq > after`` in seq order, at most ``limit``, streamed."""
        result = await self.session.stream_scalars(
            sa.select(StoredNotice)
            .where(StoredNotice.seq > after)
            .order_by(StoredNotice.seq)
            .limit(limit)
            .execution_options(yield_per=FEED_YIELD_PER)
        )
        async for notice in result:
            yield notice

    async def last_seq(self) -> int:
        """The highest seq assigned (and committed: the counter moves with the insert)."""
        value = await self.session.scalar(
            sa.select(NoticeSequence.last_seq).where(NoticeSequence.id == SEQUENCE_ROW_ID)
        )
        return value or 0
