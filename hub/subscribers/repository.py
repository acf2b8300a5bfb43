"""Queries of the subscriber side: the registry of subscribers, the area index of notices
and the seq-ordered feed filtered by area."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from hub.publishers.models import SEQUENCE_ROW_ID, NoticeSequence, StoredNotice
from hub.subscribers.models import NoticeArea, Subscriber

FEED_YIELD_PER = 200


class FeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def stream_after(
        self, *, after: int, up_to: int, areas: Sequence[str], limit: int
    ) -> AsyncIterator[StoredNotice]:
        """Notices with ``after < seq <= up_to`` whose area list holds one of ``areas``, in seq
        order, at most ``limit``, streamed. The area test runs in SQL (index on area, seq), so
        a long run of other areas' notices costs an index range scan, not a page of rows."""
        covered = sa.exists().where(NoticeArea.seq == StoredNotice.seq, NoticeArea.area.in_(areas))
        result = await self.session.stream_scalars(
            sa.select(StoredNotice)
            .where(StoredNotice.seq > after, StoredNotice.seq <= up_to, covered)
            .order_by(StoredNotice.seq)
            .limit(limit)
            .execution_options(yield_per=FEED_YIELD_PER)
        )
        async for notice in result:
            yield notice

    async def window(self, *, after: int, up_to: int) -> list[tuple[StoredNotice, list[str]]]:
        """Every notice with ``after < seq <= up_to`` and its area codes, in seq order (two
        indexed range reads; the caller bounds the span)."""
        notices = (
            await self.session.scalars(
                sa.select(StoredNotice)
                .where(StoredNotice.seq > after, StoredNotice.seq <= up_to)
                .order_by(StoredNotice.seq)
            )
        ).all()
        areas: dict[int, list[str]] = {}
        for seq, area in await self.session.execute(
            sa.select(NoticeArea.seq, NoticeArea.area).where(
                NoticeArea.seq > after, NoticeArea.seq <= up_to
            )
        ):
            areas.setdefault(int(seq), []).append(str(area))
        return [(notice, areas.get(notice.seq, [])) for notice in notices]

    async def last_seq_and_subscribers(
        self, credential_digests: Sequence[str]
    ) -> tuple[int, dict[str, str]]:
        """For a batch of feed reads: the last seq, and the municipality of each *active*
        subscriber whose credential digest is given (unknown or suspended ones are absent).
        One statement (one round trip, one snapshot): the counter row, outer-joined to the
        subscribers found."""
        rows = await self.session.execute(
            sa.select(
                NoticeSequence.last_seq, Subscriber.credential_sha256, Subscriber.municipality
            )
            .select_from(NoticeSequence)
            .outerjoin(
                Subscriber,
                sa.and_(
                    Subscriber.credential_sha256.in_(credential_digests),
                    Subscriber.suspended_at.is_(None),
                ),
            )
            .where(NoticeSequence.id == SEQUENCE_ROW_ID)
        )
        last_seq = 0
        found: dict[str, str] = {}
        for seq, digest, municipality in rows:
            last_seq = int(seq or 0)
            if digest is not None:
                found[str(digest)] = str(municipality)
        return last_seq, found

    async def last_seq(self) -> int:
        """The highest seq assigned (and committed: the counter moves with the insert)."""
        value = await self.session.scalar(
            sa.select(NoticeSequence.last_seq).where(NoticeSequence.id == SEQUENCE_ROW_ID)
        )
        return value or 0

    async def add_areas(self, *, seq: int, areas: Sequence[str]) -> None:
        self.session.add_all(NoticeArea(seq=seq, area=area) for area in areas)
        await self.session.flush()

    async def add_areas_many(self, areas: Mapping[int, Sequence[str]]) -> None:
        """One executemany after the notices' own insert (Core, like ``add_notices``)."""
        rows = [{"seq": seq, "area": area} for seq, codes in areas.items() for area in codes]
        if rows:
            await self.session.execute(sa.insert(cast(sa.Table, NoticeArea.__table__)), rows)

    async def areas_of(self, seq: int) -> list[str]:
        result = await self.session.scalars(
            sa.select(NoticeArea.area).where(NoticeArea.seq == seq).order_by(NoticeArea.area)
        )
        return list(result.all())

    async def areas_after(self, after: int, *, limit: int) -> list[tuple[int, str]]:
        """(seq, area) of the notices with ``seq > after`` (the newest ``limit`` notices)."""
        newest = (
            sa.select(StoredNotice.seq)
            .where(StoredNotice.seq > after)
            .order_by(StoredNotice.seq.desc())
            .limit(limit)
            .subquery()
        )
        result = await self.session.execute(
            sa.select(NoticeArea.seq, NoticeArea.area)
            .where(NoticeArea.seq.in_(sa.select(newest.c.seq)))
            .order_by(NoticeArea.seq, NoticeArea.area)
        )
        return [(int(seq), str(area)) for seq, area in result.all()]


class SubscriberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, municipality: str) -> Subscriber | None:
        return await self.session.get(Subscriber, municipality)

    async def by_credential_hash(self, credential_sha256: str) -> Subscriber | None:
        return await self.session.scalar(
            sa.select(Subscriber).where(Subscriber.credential_sha256 == credential_sha256)
        )

    async def add(self, subscriber: Subscriber) -> Subscriber:
        self.session.add(subscriber)
        await self.session.flush()
        return subscriber

    async def list_all(self) -> Sequence[Subscriber]:
        result = await self.session.scalars(sa.select(Subscriber).order_by(Subscriber.municipality))
        return result.all()

    async def set_suspended(self, municipality: str, suspended_at: datetime | None) -> bool:
        result = await self.session.execute(
            sa.update(Subscriber)
            .where(Subscriber.municipality == municipality)
            .values(suspended_at=suspended_at)
            .returning(Subscriber.municipality)
        )
        return result.first() is not None

    async def set_node_jwk(self, municipality: str, node_jwk: dict[str, str]) -> bool:
        result = await self.session.execute(
            sa.update(Subscriber)
            .where(Subscriber.municipality == municipality)
            .values(node_jwk=node_jwk)
            .returning(Subscriber.municipality)
        )
        return result.first() is not None

    async def set_credential(self, municipality: str, credential_sha256: str) -> bool:
        result = await self.session.execute(
            sa.update(Subscriber)
            .where(Subscriber.municipality == municipality)
            .values(credential_sha256=credential_sha256)
            .returning(Subscriber.municipality)
        )
        return result.first() is not None
