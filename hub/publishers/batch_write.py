"""Writing what a publish batch accepted: the sequence counter, the notices, their area index
and (PostgreSQL) their NOTIFY, all inside the batch's transaction.

Everything here runs while the batch holds the sequence row lock, and every round trip under
that lock is time the other replicas wait. On PostgreSQL the four writes are therefore one
statement — data-modifying CTEs over ``unnest`` of one array per column, the NOTIFYs in seq
order from its main query (PostgreSQL delivers them at commit, in that order) — one round trip
instead of four. On SQLite (one process, which holds the database lock for the whole
transaction anyway) they are four plain statements and there is nothing to notify.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.ext.asyncio import AsyncSession

from hub.publishers.models import SEQUENCE_ROW_ID, StoredNotice
from hub.publishers.repository import PublisherRepository
from hub.publishers.service import SequencedBatch
from hub.subscribers.areas import areas_of_payload
from hub.subscribers.fanout import CHANNEL, notify_payload
from hub.subscribers.repository import FeedRepository

_NOTICES = cast(sa.Table, StoredNotice.__table__)
_COLUMNS = [column.key for column in _NOTICES.columns]


_POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialects are untyped


def _array_cast(column: sa.Column[Any]) -> str:
    return f"CAST(:{column.key} AS {column.type.compile(dialect=_POSTGRESQL)}[])"


# Identifiers come from the table definition, never from input; every value is a bound parameter.
_PG_WRITE = sa.text(
    f"""
WITH counter AS (
    UPDATE notice_sequence SET last_seq = :last_seq WHERE id = {SEQUENCE_ROW_ID}
), stored AS (
    INSERT INTO notices ({", ".join(_COLUMNS)})
    SELECT * FROM unnest({", ".join(_array_cast(column) for column in _NOTICES.columns)})
), indexed AS (
    INSERT INTO notice_areas (seq, area)
    SELECT * FROM unnest(CAST(:area_seqs AS BIGINT[]), CAST(:area_codes AS VARCHAR(5)[]))
)
SELECT pg_notify(:channel, hint) FROM unnest(CAST(:hints AS TEXT[])) WITH ORDINALITY AS t(hint, n)
ORDER BY n
"""  # noqa: S608
)


async def write_batch(session: AsyncSession, batch: SequencedBatch) -> dict[int, list[str]]:
    """Write the batch's new notices (in seq order) with their areas; the areas by seq."""
    areas = {row.seq: areas_of_payload(row.payload) for row in batch.rows}
    if not batch.rows:
        return areas
    if session.get_bind().dialect.name == "postgresql":
        await _write_postgresql(session, batch, areas)
    else:
        repo = PublisherRepository(session)
        await repo.set_last_seq(batch.last_seq)
        await repo.add_notices(batch.rows)
        await FeedRepository(session).add_areas_many(areas)
    return areas


async def _write_postgresql(
    session: AsyncSession, batch: SequencedBatch, areas: Mapping[int, Sequence[str]]
) -> None:
    params: dict[str, Any] = {key: [getattr(row, key) for row in batch.rows] for key in _COLUMNS}
    params["last_seq"] = batch.last_seq
    params["area_seqs"] = [seq for seq, codes in areas.items() for _ in codes]
    params["area_codes"] = [code for codes in areas.values() for code in codes]
    params["channel"] = CHANNEL
    params["hints"] = [notify_payload(row.seq, areas[row.seq]) for row in batch.rows]
    await session.execute(_PG_WRITE, params)
