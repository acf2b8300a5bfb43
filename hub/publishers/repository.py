"""Every query on the publisher registry and the stored notices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from hub.publishers.models import (
    NOTICES_TABLE,
    SEQUENCE_ROW_ID,
    Alarm,
    NoticeSequence,
    Publisher,
    PublisherKey,
    StoredNotice,
)
from hub.publishers.schemas import NoticeRow


class PublisherRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- registry -------------------------------------------------------------------------

    async def get_publisher(self, publisher_id: str) -> Publisher | None:
        return await self.session.get(Publisher, publisher_id)

    async def add_publisher(self, publisher: Publisher) -> Publisher:
        self.session.add(publisher)
        await self.session.flush()
        return publisher

    async def list_publishers(self) -> Sequence[Publisher]:
        result = await self.session.scalars(sa.select(Publisher).order_by(Publisher.id))
        return result.all()

    async def get_key(self, kid: str) -> PublisherKey | None:
        return await self.session.get(PublisherKey, kid)

    async def get_keys(self, kids: Iterable[str]) -> dict[str, PublisherKey]:
        """The registered keys among ``kids`` (one query)."""
        wanted = sorted(set(kids))
        if not wanted:
            return {}
        rows = await self.session.scalars(
            sa.select(PublisherKey).where(PublisherKey.kid.in_(wanted))
        )
        return {row.kid: row for row in rows}

    async def add_key(self, key: PublisherKey) -> PublisherKey:
        self.session.add(key)
        await self.session.flush()
        return key

    async def list_keys(self, publisher_id: str | None = None) -> Sequence[PublisherKey]:
        query = sa.select(PublisherKey).order_by(PublisherKey.kid)
        if publisher_id is not None:
            query = query.where(PublisherKey.publisher_id == publisher_id)
        result = await self.session.scalars(query)
        return result.all()

    async def set_key_revoked(self, kid: str, revoked_at: datetime | None) -> bool:
        result = await self.session.execute(
            sa.update(PublisherKey)
            .where(PublisherKey.kid == kid)
            .values(revoked_at=revoked_at)
            .returning(PublisherKey.kid)
        )
        return result.first() is not None

    # --- notices --------------------------------------------------------------------------

    async def lock_sequence(self) -> int:
        """Take the sequence row lock (PostgreSQL; SQLite holds the database lock already)
        and return the last assigned seq. Held until the transaction ends."""
        value = await self.session.scalar(
            sa.select(NoticeSequence.last_seq)
            .where(NoticeSequence.id == SEQUENCE_ROW_ID)
            .with_for_update()
        )
        if value is None:
            raise RuntimeError("notice_sequence row missing: run `todoke hub migrate`")
        return int(value)

    async def next_seq(self) -> int:
        value = await self.session.scalar(
            sa.update(NoticeSequence)
            .where(NoticeSequence.id == SEQUENCE_ROW_ID)
            .values(last_seq=NoticeSequence.last_seq + 1)
            .returning(NoticeSequence.last_seq)
        )
        if value is None:
            raise RuntimeError("notice_sequence row missing: run `todoke hub migrate`")
        return int(value)

    async def set_last_seq(self, last_seq: int) -> None:
        """Move the counter to ``last_seq`` (under ``lock_sequence``; a batch's last seq)."""
        await self.session.execute(
            sa.update(NoticeSequence)
            .where(NoticeSequence.id == SEQUENCE_ROW_ID)
            .values(last_seq=last_seq)
        )

    async def notices_and_revisions(
        self, keys: Iterable[tuple[str, str]], documents: Iterable[tuple[str, str]]
    ) -> tuple[int, dict[tuple[str, str], StoredNotice], dict[tuple[str, str], int]]:
        """In one statement (one snapshot): the last committed seq, the stored notices among
        ``(publisher, notice_id)`` keys, and the highest stored revision of each
        ``(publisher, document_id)`` that has one (read from every stored revision of those
        documents: a document has few)."""
        wanted, docs = set(keys), set(documents)
        publishers = sorted({p for p, _ in wanted} | {p for p, _ in docs})
        matches = [
            StoredNotice.notice_id.in_(sorted({n for _, n in wanted})),
            StoredNotice.document_id.in_(sorted({d for _, d in docs})),
        ]
        rows = await self.session.execute(
            sa.select(NoticeSequence.last_seq, StoredNotice)
            .select_from(NoticeSequence)
            .outerjoin(  # the (publisher, notice_id|document_id) indexes
                StoredNotice,
                sa.and_(StoredNotice.publisher_id.in_(publishers), sa.or_(*matches)),
            )
            .where(NoticeSequence.id == SEQUENCE_ROW_ID)
        )
        seen: int | None = None
        found: dict[tuple[str, str], StoredNotice] = {}
        revisions: dict[tuple[str, str], int] = {}
        for last_seq, row in rows:
            seen = int(last_seq)
            if row is None:
                continue
            key = (row.publisher_id, row.notice_id)
            if key in wanted:
                found[key] = row
            document = (row.publisher_id, row.document_id)
            if document in docs:
                revisions[document] = max(revisions.get(document, row.revision), row.revision)
        if seen is None:
            raise RuntimeError("notice_sequence row missing: run `todoke hub migrate`")
        return seen, found, revisions

    async def add_notices(self, notices: Sequence[NoticeRow]) -> None:
        """Insert new notices in one executemany. Core, not the unit of work: the rows are only
        inserted, and tracking each one in the session cost more than storing it."""
        columns = [column.key for column in NOTICES_TABLE.columns]
        await self.session.execute(
            sa.insert(NOTICES_TABLE),
            [{key: getattr(row, key) for key in columns} for row in notices],
        )

    async def get_notice(self, publisher_id: str, notice_id: str) -> StoredNotice | None:
        return await self.session.scalar(
            sa.select(StoredNotice).where(
                StoredNotice.publisher_id == publisher_id,
                StoredNotice.notice_id == notice_id,
            )
        )

    async def notice_id_used_by_other(self, notice_id: str, *, publisher_id: str) -> bool:
        """Whether a publisher other than ``publisher_id`` stored a notice ``notice_id``."""
        found = await self.session.scalar(
            sa.select(StoredNotice.seq)
            .where(StoredNotice.notice_id == notice_id, StoredNotice.publisher_id != publisher_id)
            .limit(1)
        )
        return found is not None

    async def latest_revision(self, publisher_id: str, document_id: str) -> int | None:
        return await self.session.scalar(
            sa.select(sa.func.max(StoredNotice.revision)).where(
                StoredNotice.publisher_id == publisher_id,
                StoredNotice.document_id == document_id,
            )
        )

    async def add_notice(self, notice: StoredNotice) -> StoredNotice:
        self.session.add(notice)
        await self.session.flush()
        return notice

    async def count_notices(self) -> int:
        value = await self.session.scalar(sa.select(sa.func.count()).select_from(StoredNotice))
        return value or 0

    async def add_alarm(self, alarm: Alarm) -> Alarm:
        self.session.add(alarm)
        await self.session.flush()
        return alarm

    async def list_alarms(self) -> Sequence[Alarm]:
        result = await self.session.scalars(sa.select(Alarm).order_by(Alarm.id))
        return result.all()
