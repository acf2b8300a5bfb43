"""Every query of the dispatch engine: notices to plan, send jobs, outbox batches.

Every function takes the tenant code and filters by it (a job id of another tenant is "not
found"). The sender's statements are short and few per batch: one claim for many batches,
one reachability query, one outcome update (+ the audit row and the job's finish check).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.db.upsert import insert_for
from municipal_node.dispatch.models import Approval, BatchState, JobState, OutboxBatch, SendJob
from municipal_node.relay.models import NoticeState, StoredNotice

ALL_FAILED_REASON = (
    "すべてのバッチの送信に失敗しました（各バッチの最後のエラーを参照） / every batch failed "
    "(see the batches' last error)"
)


_BATCHES = cast(Table, OutboxBatch.__table__)
_c = _BATCHES.c


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# --- notices ---------------------------------------------------------------------------------


async def notices_to_plan(session: AsyncSession, tenant_code: str) -> list[int]:
    result = await session.scalars(
        select(StoredNotice.id)
        .where(StoredNotice.tenant_code == tenant_code, StoredNotice.state == NoticeState.STORED)
        .order_by(StoredNotice.seq)
    )
    return list(result)


async def get_notice(
    session: AsyncSession, tenant_code: str, notice_pk: int
) -> StoredNotice | None:
    return await session.scalar(
        select(StoredNotice).where(
            StoredNotice.tenant_code == tenant_code, StoredNotice.id == notice_pk
        )
    )


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


async def notices_of_document(
    session: AsyncSession, tenant_code: str, publisher: str, document_id: str, below_revision: int
) -> list[tuple[str, int]]:
    """(notice_id, revision) of the earlier revisions of a document stored for the tenant."""
    result = await session.execute(
        select(StoredNotice.notice_id, StoredNotice.revision).where(
            StoredNotice.tenant_code == tenant_code,
            StoredNotice.publisher == publisher,
            StoredNotice.document_id == document_id,
            StoredNotice.revision < below_revision,
        )
    )
    return [(notice_id, revision) for notice_id, revision in result]


async def move_notice(
    session: AsyncSession,
    tenant_code: str,
    publisher: str,
    notice_id: str,
    *,
    from_states: Sequence[str],
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
        .where(
            StoredNotice.tenant_code == tenant_code,
            StoredNotice.publisher == publisher,
            StoredNotice.notice_id == notice_id,
            StoredNotice.state.in_(from_states),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


# --- jobs ------------------------------------------------------------------------------------


async def insert_job(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert a job; None when this (notice, phase) already has one (the unique key)."""
    stmt = (
        insert_for(session, SendJob)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tenant_code", "publisher", "notice_id", "phase"])
        .returning(SendJob.id)
    )
    job_id = await session.scalar(stmt)
    return None if job_id is None else int(job_id)


async def get_job(session: AsyncSession, tenant_code: str, job_id: int) -> SendJob | None:
    return await session.scalar(
        select(SendJob).where(SendJob.tenant_code == tenant_code, SendJob.id == job_id)
    )


async def job_ids_in_state(session: AsyncSession, tenant_code: str, state: str) -> list[int]:
    result = await session.scalars(
        select(SendJob.id)
        .where(SendJob.tenant_code == tenant_code, SendJob.state == state)
        .order_by(SendJob.id)
    )
    return list(result)


async def jobs_of_notice(
    session: AsyncSession, tenant_code: str, publisher: str, notice_id: str
) -> list[SendJob]:
    result = await session.scalars(
        select(SendJob)
        .where(
            SendJob.tenant_code == tenant_code,
            SendJob.publisher == publisher,
            SendJob.notice_id == notice_id,
        )
        .order_by(SendJob.id)
    )
    return list(result)


async def list_jobs(
    session: AsyncSession,
    tenant_code: str,
    *,
    state: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[SendJob]:
    query = select(SendJob).where(SendJob.tenant_code == tenant_code)
    if state is not None:
        query = query.where(SendJob.state == state)
    if before_id is not None:
        query = query.where(SendJob.id < before_id)
    result = await session.scalars(query.order_by(SendJob.id.desc()).limit(limit))
    return list(result)


async def advance_plan(
    session: AsyncSession,
    tenant_code: str,
    job_id: int,
    *,
    expect_batches: int,
    batches: int,
    targeted: int,
    plan_after: str | None,
    now: datetime,
    finish_state: str | None = None,
) -> bool:
    """Compare-and-set the planning cursor (and, with ``finish_state``, end planning).

    False — nothing changed — when the job is no longer ``planning`` (cancelled) or another
    planner moved it first (its batch count is not ``expect_batches``)."""
    values: dict[str, Any] = {
        "batches": batches,
        "targeted": targeted,
        "plan_after": plan_after,
        "updated_at": now,
    }
    if finish_state is not None:
        values["state"] = finish_state
        values["planned_at"] = now
        if finish_state not in JobState.ACTIVE:
            values["finished_at"] = now
    result = await session.execute(
        update(SendJob)
        .where(
            SendJob.tenant_code == tenant_code,
            SendJob.id == job_id,
            SendJob.state == JobState.PLANNING,
            SendJob.batches == expect_batches,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def move_job(
    session: AsyncSession,
    tenant_code: str,
    job_id: int,
    *,
    from_states: Sequence[str],
    to_state: str,
    now: datetime,
    reason: str | None = None,
) -> bool:
    values: dict[str, Any] = {"state": to_state, "updated_at": now}
    if reason is not None:
        values["reason"] = reason
    if to_state not in JobState.ACTIVE:
        values["finished_at"] = now
    result = await session.execute(
        update(SendJob)
        .where(
            SendJob.tenant_code == tenant_code,
            SendJob.id == job_id,
            SendJob.state.in_(from_states),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def _pending_of(job_id: Any) -> Any:
    return exists().where(OutboxBatch.job_id == job_id, OutboxBatch.state == BatchState.PENDING)


async def finish_if_drained(
    session: AsyncSession, tenant_code: str, job_id: int, *, now: datetime
) -> str | None:
    """``sending`` → ``done`` once no batch is pending (``failed`` when none was sent and some
    failed), in ONE statement; the new state, or None when the job is not finished."""
    sent_any = exists().where(OutboxBatch.job_id == job_id, OutboxBatch.state == BatchState.SENT)
    failed_any = exists().where(
        OutboxBatch.job_id == job_id, OutboxBatch.state == BatchState.FAILED
    )
    all_failed = and_(failed_any, ~sent_any)
    result = await session.execute(
        update(SendJob)
        .where(
            SendJob.tenant_code == tenant_code,
            SendJob.id == job_id,
            SendJob.state == JobState.SENDING,
            ~_pending_of(job_id),
        )
        .values(
            state=case((all_failed, JobState.FAILED), else_=JobState.DONE),
            reason=case((all_failed, ALL_FAILED_REASON), else_=SendJob.reason),
            updated_at=now,
            finished_at=now,
        )
        .returning(SendJob.state)
        .execution_options(synchronize_session=False)
    )
    state = result.scalar()
    return None if state is None else str(state)


async def sending_job_ids(session: AsyncSession, tenant_code: str) -> list[int]:
    return await job_ids_in_state(session, tenant_code, JobState.SENDING)


async def expired_job_ids(session: AsyncSession, tenant_code: str, now: datetime) -> list[int]:
    result = await session.scalars(
        select(SendJob.id).where(
            SendJob.tenant_code == tenant_code,
            SendJob.state.in_(JobState.ACTIVE),
            SendJob.send_until <= now,
        )
    )
    return list(result)


# --- batches ---------------------------------------------------------------------------------


async def insert_batches(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """One multi-row INSERT (Core: no ORM bookkeeping for rows nobody loads)."""
    if rows:
        await session.execute(_BATCHES.insert(), rows)


@dataclass(frozen=True)
class ClaimedBatch:
    id: int
    job_id: int
    batch_no: int
    user_ids: list[str]
    retry_key: str
    attempts: int
    household_counts: dict[str, int]
    households_sealed: bytes | None


def _claimable(tenant_code: str, now: datetime) -> list[Any]:
    return [
        OutboxBatch.tenant_code == tenant_code,
        OutboxBatch.state == BatchState.PENDING,
        or_(OutboxBatch.lease_until.is_(None), OutboxBatch.lease_until <= now),
        SendJob.send_until > now,
        or_(
            SendJob.state == JobState.SENDING,
            and_(SendJob.state == JobState.PLANNING, SendJob.approval == Approval.AUTO),
        ),
    ]


async def claim_batches(
    session: AsyncSession,
    tenant_code: str,
    *,
    worker: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[ClaimedBatch]:
    """Claim up to ``limit`` sendable batches, oldest first, in ONE statement:
    ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …`` on PostgreSQL (several
    processes share the work, none waits for another), the same without the lock clause on
    SQLite (one process). Commit right after: the lease, not a row lock, guards the batch."""
    chosen = (
        select(OutboxBatch.id)
        .join(SendJob, SendJob.id == OutboxBatch.job_id)
        .where(*_claimable(tenant_code, now))
        .order_by(OutboxBatch.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxBatch)
    )
    result = await session.execute(
        update(OutboxBatch)
        .where(OutboxBatch.id.in_(chosen.scalar_subquery()))
        .values(claimed_by=worker, lease_until=lease_until)
        .returning(
            OutboxBatch.id,
            OutboxBatch.job_id,
            OutboxBatch.batch_no,
            OutboxBatch.user_ids,
            OutboxBatch.retry_key,
            OutboxBatch.attempts,
            OutboxBatch.household_counts,
            OutboxBatch.households_sealed,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = [
        ClaimedBatch(int(i), int(j), int(n), list(u), str(k), int(a), dict(h or {}), s)
        for i, j, n, u, k, a, h, s in result
    ]
    claimed.sort(key=lambda batch: batch.id)
    return claimed


async def sendable_jobs(
    session: AsyncSession, tenant_code: str, job_ids: Sequence[int], *, now: datetime
) -> set[int]:
    """Which of these jobs may still send (not cancelled, held or expired meanwhile)."""
    if not job_ids:
        return set()
    result = await session.scalars(
        select(SendJob.id).where(
            SendJob.tenant_code == tenant_code,
            SendJob.id.in_(sorted(set(job_ids))),
            SendJob.send_until > now,
            or_(
                SendJob.state == JobState.SENDING,
                and_(SendJob.state == JobState.PLANNING, SendJob.approval == Approval.AUTO),
            ),
        )
    )
    return {int(job_id) for job_id in result}


async def withdraw(
    session: AsyncSession, batch_ids: Sequence[int], *, worker: str, now: datetime
) -> None:
    """Claimed batches whose job stopped before they went out: ``cancelled``, never sent."""
    if batch_ids:
        await session.execute(
            update(OutboxBatch)
            .where(
                OutboxBatch.id.in_(batch_ids),
                OutboxBatch.claimed_by == worker,
                OutboxBatch.state == BatchState.PENDING,
            )
            .values(state=BatchState.CANCELLED, claimed_by=None, lease_until=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )


_UNREACHABLE_SQL = """
SELECT f.user_id FROM line_friends AS f
WHERE f.tenant_code = :tenant AND NOT f.is_friend AND f.user_id BETWEEN :lo AND :hi
  AND f.user_id IN ({ids})
UNION ALL
SELECT p.user_id FROM friend_preferences AS p
WHERE p.tenant_code = :tenant AND p.stopped AND p.user_id BETWEEN :lo AND :hi
  AND p.user_id IN ({ids})
"""
_UNREACHABLE = {
    "postgresql": text(
        _UNREACHABLE_SQL.format(ids="SELECT json_array_elements_text(CAST(:ids AS json))")
    ),
    "sqlite": text(_UNREACHABLE_SQL.format(ids="SELECT value FROM json_each(:ids)")),
}


async def unreachable(session: AsyncSession, tenant_code: str, user_ids: list[str]) -> set[str]:
    """Which of ``user_ids`` must not receive anything now: no longer friends or "stop all"
    in 受信設定. ONE statement whatever the number of ids: it reads only the (few) rows of
    the partial indexes ``ix_line_friends_not_friend`` / ``ix_friend_preferences_stopped``
    within the ids' key range, never one row per recipient. The ids travel as one JSON
    parameter (a 500-element array parameter costs ~5 ms of client CPU to encode).

    Relies on ``line_friends`` rows never being deleted (unfollow sets ``is_friend`` false):
    recipients were planned from it, so every one of them has a row."""
    if not user_ids:
        return set()
    dialect = session.get_bind().dialect.name
    params = {
        "tenant": tenant_code,
        "ids": json.dumps(user_ids, separators=(",", ":")),
        "lo": min(user_ids),
        "hi": max(user_ids),
    }
    result = await session.scalars(_UNREACHABLE[dialect], params)
    return set(result)


_RECORD_SENT = (
    _BATCHES.update()
    .where(
        _c.id == bindparam("b_id"),
        or_(_c.state == BatchState.PENDING, _c.state == BatchState.CANCELLED),
    )
    .values(
        state=BatchState.SENT,
        attempts=bindparam("b_attempts"),
        sent_count=bindparam("b_sent_count"),
        sent_household_counts=bindparam("b_households"),
        last_error=None,
        claimed_by=None,
        lease_until=None,
        updated_at=bindparam("b_now"),
    )
)
#: a failed attempt, only while this worker holds the claim: back to ``pending`` with the next
#: attempt not before ``b_retry_at``, or ``failed`` for good
_RECORD_FAILED_ATTEMPT = (
    _BATCHES.update()
    .where(
        _c.id == bindparam("b_id"),
        _c.state == BatchState.PENDING,
        _c.claimed_by == bindparam("b_worker"),
    )
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        last_error=bindparam("b_error"),
        claimed_by=None,
        lease_until=bindparam("b_retry_at"),
        updated_at=bindparam("b_now"),
    )
)


@dataclass(frozen=True)
class Sent:
    batch_id: int
    attempts: int
    sent_count: int
    households: dict[str, int]


@dataclass(frozen=True)
class FailedAttempt:
    batch_id: int
    attempts: int
    error: str
    #: None: failed for good
    retry_at: datetime | None


async def record_outcomes(
    session: AsyncSession,
    *,
    worker: str,
    now: datetime,
    sent: Sequence[Sent],
    failed: Sequence[FailedAttempt],
) -> None:
    """Many batches' outcomes, one ``executemany`` per kind (one round trip on PostgreSQL)."""
    if sent:
        await session.execute(
            _RECORD_SENT,
            [
                {
                    "b_id": s.batch_id,
                    "b_attempts": s.attempts,
                    "b_sent_count": s.sent_count,
                    "b_households": s.households,
                    "b_now": now,
                }
                for s in sent
            ],
        )
    if failed:
        await session.execute(
            _RECORD_FAILED_ATTEMPT,
            [
                {
                    "b_id": f.batch_id,
                    "b_worker": worker,
                    "b_state": BatchState.PENDING if f.retry_at else BatchState.FAILED,
                    "b_attempts": f.attempts,
                    "b_error": f.error[:2000],
                    "b_retry_at": f.retry_at,
                    "b_now": now,
                }
                for f in failed
            ],
        )


async def release_claims(session: AsyncSession, batch_ids: Sequence[int], *, worker: str) -> None:
    """Hand back claimed batches this worker will not send (shutting down)."""
    if batch_ids:
        await session.execute(
            update(OutboxBatch)
            .where(
                OutboxBatch.id.in_(batch_ids),
                OutboxBatch.claimed_by == worker,
                OutboxBatch.state == BatchState.PENDING,
            )
            .values(claimed_by=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )


async def cancel_pending(
    session: AsyncSession, tenant_code: str, job_ids: Sequence[int], *, now: datetime
) -> int:
    """Cancel every pending batch of these jobs at once, claimed ones included. A claimed batch
    whose request is already on its way is still recorded as ``sent`` if LINE accepts it
    (``record_outcomes`` may overwrite ``cancelled``); one not sent yet is withdrawn by its
    sender; a failed attempt does not bring it back."""
    if not job_ids:
        return 0
    result = await session.execute(
        update(OutboxBatch)
        .where(
            OutboxBatch.tenant_code == tenant_code,
            OutboxBatch.job_id.in_(job_ids),
            OutboxBatch.state == BatchState.PENDING,
        )
        .values(state=BatchState.CANCELLED, claimed_by=None, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def job_ids_with_stale_pending(
    session: AsyncSession, tenant_code: str, states: Sequence[str]
) -> list[int]:
    """Jobs in ``states`` that still have pending batches (for the sweep)."""
    result = await session.scalars(
        select(SendJob.id).where(
            SendJob.tenant_code == tenant_code,
            SendJob.state.in_(states),
            _pending_of(SendJob.id),
        )
    )
    return list(result)


@dataclass(frozen=True)
class BatchCounts:
    batches: int = 0
    pending: int = 0
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    recipients_sent: int = 0
    recipients_failed: int = 0
    recipients_cancelled: int = 0
    dropped: int = 0


async def batch_counts(
    session: AsyncSession, tenant_code: str, job_ids: Sequence[int]
) -> dict[int, BatchCounts]:
    """Per job: batches by state and recipients sent / failed / cancelled / dropped at send
    time (aggregates only)."""
    if not job_ids:
        return {}
    result = await session.execute(
        select(
            OutboxBatch.job_id,
            OutboxBatch.state,
            func.count(),
            func.sum(OutboxBatch.recipient_count),
            func.sum(func.coalesce(OutboxBatch.sent_count, 0)),
        )
        .where(OutboxBatch.tenant_code == tenant_code, OutboxBatch.job_id.in_(job_ids))
        .group_by(OutboxBatch.job_id, OutboxBatch.state)
    )
    raw: dict[int, dict[str, int]] = {}
    for job_id, state, count, recipients, sent in result:
        entry = raw.setdefault(int(job_id), {})
        entry["batches"] = entry.get("batches", 0) + int(count)
        entry[str(state)] = int(count)
        if state == BatchState.SENT:
            entry["recipients_sent"] = int(sent or 0)
            entry["dropped"] = int(recipients or 0) - int(sent or 0)
        elif state == BatchState.FAILED:
            entry["recipients_failed"] = int(recipients or 0)
        elif state == BatchState.CANCELLED:
            entry["recipients_cancelled"] = int(recipients or 0)
    return {
        job_id: BatchCounts(
            batches=v.get("batches", 0),
            pending=v.get(BatchState.PENDING, 0),
            sent=v.get(BatchState.SENT, 0),
            failed=v.get(BatchState.FAILED, 0),
            cancelled=v.get(BatchState.CANCELLED, 0),
            recipients_sent=v.get("recipients_sent", 0),
            recipients_failed=v.get("recipients_failed", 0),
            recipients_cancelled=v.get("recipients_cancelled", 0),
            dropped=v.get("dropped", 0),
        )
        for job_id, v in raw.items()
    }


async def batches_of_job(session: AsyncSession, tenant_code: str, job_id: int) -> list[OutboxBatch]:
    result = await session.scalars(
        select(OutboxBatch)
        .where(OutboxBatch.tenant_code == tenant_code, OutboxBatch.job_id == job_id)
        .order_by(OutboxBatch.batch_no)
    )
    return list(result)
