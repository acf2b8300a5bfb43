"""Writing what a publish batch accepted: the sequence counter, the notices, their area index
and (PostgreSQL) their NOTIFY, all inside the batch's transaction — if nothing the batch's
plan relied on changed since it looked (``WriteGuard``).

Everything here runs while the batch holds the sequence row lock, and every round trip under
that lock is time the other replicas wait. So the batch plans *before* it takes the lock (the
lifecycle rules read one snapshot) and the write checks that plan: no notice committed after
the seq the plan saw may carry one of the notice ids or documents the rules read. On
PostgreSQL guard and writes are one statement — a guard CTE, data-modifying CTEs over
a JSON record set, the NOTIFYs in seq order from its main query (PostgreSQL
delivers them at commit, in that order) — one round trip instead of four, and none for the
plan. A guard that fails writes nothing and raises ``WriteConflict``: the caller rolls back
and stores the batch again the lock-first way. On SQLite (one process, whose transactions hold
the database lock from their start) the plan cannot go stale; the guard only compares seqs,
and the writes are four plain statements with nothing to notify.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.ext.asyncio import AsyncSession

from hub.publishers.models import NOTICES_TABLE, SEQUENCE_ROW_ID
from hub.publishers.repository import PublisherRepository
from hub.publishers.sequencing import SequencedBatch
from hub.subscribers.fanout import CHANNEL, notify_payload
from hub.subscribers.repository import FeedRepository

_COLUMNS = [column.key for column in NOTICES_TABLE.columns]


_POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialects are untyped


def _column_type(column: sa.Column[Any]) -> str:
    return f"{column.key} {column.type.compile(dialect=_POSTGRESQL)}"


# Identifiers come from the table definition, never from input; every value is a bound parameter.
_PG_WRITE = sa.text(
    f"""
WITH conflict AS (
    SELECT EXISTS (
        SELECT 1 FROM notices WHERE seq BETWEEN :seen_seq + 1 AND :locked_seq
        AND (notice_id IN (SELECT json_array_elements_text(CAST(:touched_ids AS JSON)))
             OR document_id IN (SELECT json_array_elements_text(CAST(:touched_documents AS JSON))))
    ) AS found
), counter AS (
    UPDATE notice_sequence SET last_seq = :last_seq
    WHERE id = {SEQUENCE_ROW_ID} AND NOT (SELECT found FROM conflict)
), stored AS (
    INSERT INTO notices ({", ".join(_COLUMNS)})
    SELECT {", ".join(_COLUMNS)}
    FROM json_to_recordset(CAST(:rows AS JSON)) AS n({", ".join(map(_column_type, NOTICES_TABLE.columns))})
    WHERE NOT (SELECT found FROM conflict)
), indexed AS (
    INSERT INTO notice_areas (seq, area)
    SELECT seq, area FROM json_to_recordset(CAST(:areas AS JSON)) AS a(seq BIGINT, area VARCHAR(5))
    WHERE NOT (SELECT found FROM conflict)
)
SELECT pg_notify(:channel, hint)
FROM json_array_elements_text(CAST(:hints AS JSON)) WITH ORDINALITY AS t(hint, n)
WHERE NOT (SELECT found FROM conflict)
ORDER BY n
"""  # noqa: S608
)


@dataclass(frozen=True)
class WriteGuard:
    """What a batch's plan relied on: the last seq committed when it looked, the seq the lock
    showed, and every notice id and document id its lifecycle rules read."""

    seen_seq: int
    locked_seq: int
    notice_ids: frozenset[str] = frozenset()
    document_ids: frozenset[str] = frozenset()

    @classmethod
    def locked_first(cls, locked_seq: int) -> WriteGuard:
        """A plan made under the lock: nothing can have changed."""
        return cls(seen_seq=locked_seq, locked_seq=locked_seq)


class WriteConflict(Exception):
    """A notice committed after the plan looked touches what the plan relied on."""


async def write_batch(session: AsyncSession, batch: SequencedBatch, *, guard: WriteGuard) -> None:
    """Write the batch's new notices (in seq order) with their areas, or raise
    ``WriteConflict`` and write nothing."""
    if not batch.rows:
        return
    areas = {row.seq: row.areas for row in batch.rows}
    if session.get_bind().dialect.name == "postgresql":
        await _write_postgresql(session, batch, areas, guard)
    else:
        if guard.locked_seq != guard.seen_seq:
            raise WriteConflict(f"seq moved from {guard.seen_seq} to {guard.locked_seq}")
        repo = PublisherRepository(session)
        await repo.set_last_seq(batch.last_seq)
        await repo.add_notices(batch.rows)
        await FeedRepository(session).add_areas_many(areas)


async def _write_postgresql(
    session: AsyncSession,
    batch: SequencedBatch,
    areas: Mapping[int, Sequence[str]],
    guard: WriteGuard,
) -> None:
    # JSON, not one array per column: psycopg adapts arrays element by element in Python,
    # which cost more than all the rest of the write (measured: ~10 % of a hub's ingest CPU).
    rows = [{key: getattr(row, key) for key in _COLUMNS} for row in batch.rows]
    params: dict[str, Any] = {
        "rows": _json(rows),
        "last_seq": batch.last_seq,
        "seen_seq": guard.seen_seq,  # a bounded range: the primary key index, whatever the plan
        "locked_seq": guard.locked_seq,
        "touched_ids": _json(sorted(guard.notice_ids)),
        "touched_documents": _json(sorted(guard.document_ids)),
        "areas": _json(
            [{"seq": seq, "area": code} for seq, codes in areas.items() for code in codes]
        ),
        "channel": CHANNEL,
        "hints": _json([notify_payload(row.seq, areas[row.seq]) for row in batch.rows]),
    }
    notified = len((await session.execute(_PG_WRITE, params)).all())
    if notified == 0:
        raise WriteConflict(f"a notice committed after seq {guard.seen_seq} touches this batch")
    if notified != len(batch.rows):
        raise RuntimeError(f"stored {len(batch.rows)} notices but notified {notified}")


def _json(value: object) -> str:
    return orjson.dumps(value).decode()  # datetimes as RFC 3339, which PostgreSQL reads
