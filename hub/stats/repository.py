"""Every query on delivery reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.publishers.models import StoredNotice
from hub.stats.models import DeliveryReport
from hub.subscribers.models import Subscriber


@dataclass(frozen=True)
class ReportKey:
    publisher_id: str
    notice_id: str
    phase: str
    municipality: str

    def where(self) -> list[sa.ColumnElement[bool]]:
        return [
            DeliveryReport.publisher_id == self.publisher_id,
            DeliveryReport.notice_id == self.notice_id,
            DeliveryReport.phase == self.phase,
            DeliveryReport.municipality == self.municipality,
        ]


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_for_update(self, key: ReportKey) -> DeliveryReport | None:
        """The stored report, row-locked until the transaction ends (PostgreSQL; SQLite's
        writers already hold the database lock)."""
        return await self.session.scalar(
            sa.select(DeliveryReport).where(*key.where()).with_for_update()
        )

    async def insert_if_absent(self, values: Mapping[str, Any]) -> bool:
        """Insert unless a report with the same key exists (a concurrent submit may have
        stored one since we looked); True when this call inserted it."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(DeliveryReport).values(**values).on_conflict_do_nothing()
        result = await self.session.execute(statement.returning(DeliveryReport.municipality))
        return result.first() is not None

    async def replace(self, key: ReportKey, values: Mapping[str, Any]) -> None:
        await self.session.execute(sa.update(DeliveryReport).where(*key.where()).values(**values))

    async def for_notice(
        self, *, publisher_id: str, notice_id: str
    ) -> Sequence[tuple[DeliveryReport, str | None]]:
        """Every stored report of the notice with the municipality's registered name, by phase
        and municipality."""
        result = await self.session.execute(
            sa.select(DeliveryReport, Subscriber.name)
            .join(Subscriber, Subscriber.municipality == DeliveryReport.municipality, isouter=True)
            .where(
                DeliveryReport.publisher_id == publisher_id,
                DeliveryReport.notice_id == notice_id,
            )
            .order_by(DeliveryReport.phase, DeliveryReport.municipality)
        )
        return [(row, name) for row, name in result.all()]

    async def reported_notices(self, *, limit: int) -> Sequence[tuple[StoredNotice, int, datetime]]:
        """The notices with reports, most recently reported first: the stored notice, how many
        municipalities reported it (any phase) and when the latest report arrived."""
        latest = sa.func.max(DeliveryReport.received_at).label("latest")
        summary = (
            sa.select(
                DeliveryReport.publisher_id,
                DeliveryReport.notice_id,
                sa.func.count(sa.distinct(DeliveryReport.municipality)).label("municipalities"),
                latest,
            )
            .group_by(DeliveryReport.publisher_id, DeliveryReport.notice_id)
            .subquery()
        )
        result = await self.session.execute(
            sa.select(StoredNotice, summary.c.municipalities, summary.c.latest)
            .join(
                summary,
                sa.and_(
                    StoredNotice.publisher_id == summary.c.publisher_id,
                    StoredNotice.notice_id == summary.c.notice_id,
                ),
            )
            .order_by(summary.c.latest.desc(), StoredNotice.seq.desc())
            .limit(limit)
        )
        return [(notice, int(count), when) for notice, count, when in result.all()]
