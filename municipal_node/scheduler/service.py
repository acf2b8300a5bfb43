"""Putting work in the scheduler: ``schedule`` (once per (tenant, kind, key)), ``reschedule``
and ``cancel``. Call them inside the caller's transaction: the task exists exactly when the
thing it belongs to (a campaign phase, a recurring rule) is committed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.db.upsert import insert_for
from municipal_node.scheduler.models import ScheduledTask, TaskState

#: states a ``reschedule`` brings back to ``pending`` (``done`` is final: its effect happened)
_REVIVABLE = (TaskState.PENDING, TaskState.CANCELLED, TaskState.MISSED, TaskState.FAILED)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _check(kind: str, key: str, due_at: datetime) -> None:
    if not 0 < len(kind) <= 32:
        raise ValueError(f"task kind must be 1–32 characters: {kind!r}")
    if not 0 < len(key) <= 128:
        raise ValueError(f"task key must be 1–128 characters: {key!r}")
    if due_at.tzinfo is None:
        raise ValueError("due_at must be an aware datetime")


async def schedule(
    session: AsyncSession,
    *,
    tenant_code: str,
    kind: str,
    key: str,
    due_at: datetime,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """Insert a pending task unless (tenant, kind, key) exists, in any state (True when
    inserted). ``payload`` holds ids only, never personal data."""
    _check(kind, key, due_at)
    statement = (
        insert_for(session, ScheduledTask)
        .values(
            tenant_code=tenant_code,
            kind=kind,
            key=key,
            due_at=due_at,
            payload=payload,
            state=TaskState.PENDING,
            attempts=0,
            last_error=None,
            claimed_by=None,
            lease_until=None,
            created_at=now,
            updated_at=now,
            done_at=None,
        )
        .on_conflict_do_nothing(index_elements=["tenant_code", "kind", "key"])
        .returning(ScheduledTask.id)
    )
    return await session.scalar(statement) is not None


async def reschedule(
    session: AsyncSession,
    *,
    tenant_code: str,
    kind: str,
    key: str,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Move a task that has not run (pending, or cancelled/missed/failed: it becomes pending
    again with a fresh count of attempts) to ``due_at``; False when there is no such task or it
    is done already."""
    _check(kind, key, due_at)
    values: dict[str, Any] = {
        "due_at": due_at,
        "state": TaskState.PENDING,
        "attempts": 0,
        "last_error": None,
        "claimed_by": None,
        "lease_until": None,
        "updated_at": now,
    }
    if payload is not None:
        values["payload"] = payload
    result = await session.execute(
        update(ScheduledTask)
        .where(
            ScheduledTask.tenant_code == tenant_code,
            ScheduledTask.kind == kind,
            ScheduledTask.key == key,
            ScheduledTask.state.in_(_REVIVABLE),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) > 0


async def put(
    session: AsyncSession,
    *,
    tenant_code: str,
    kind: str,
    key: str,
    due_at: datetime,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """The task pending at ``due_at``: moved (``reschedule``) when it exists and has not run,
    else inserted (``schedule``; a task already done stays done)."""
    if not await reschedule(
        session, tenant_code=tenant_code, kind=kind, key=key, due_at=due_at, now=now,
        payload=payload,
    ):  # fmt: skip
        await schedule(
            session, tenant_code=tenant_code, kind=kind, key=key, due_at=due_at,
            payload=payload, now=now,
        )  # fmt: skip


async def cancel(
    session: AsyncSession, *, tenant_code: str, kind: str, key: str, now: datetime
) -> bool:
    """A pending task will not run (True when one was cancelled)."""
    result = await session.execute(
        update(ScheduledTask)
        .where(
            ScheduledTask.tenant_code == tenant_code,
            ScheduledTask.kind == kind,
            ScheduledTask.key == key,
            ScheduledTask.state == TaskState.PENDING,
        )
        .values(state=TaskState.CANCELLED, updated_at=now, claimed_by=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) > 0


async def get(
    session: AsyncSession, *, tenant_code: str, kind: str, key: str
) -> ScheduledTask | None:
    return await session.scalar(
        select(ScheduledTask).where(
            ScheduledTask.tenant_code == tenant_code,
            ScheduledTask.kind == kind,
            ScheduledTask.key == key,
        )
    )


async def list_tasks(
    session: AsyncSession, tenant_code: str, *, kind: str | None = None
) -> list[ScheduledTask]:
    """The tenant's tasks (optionally of one kind), by due time."""
    query = select(ScheduledTask).where(ScheduledTask.tenant_code == tenant_code)
    if kind is not None:
        query = query.where(ScheduledTask.kind == kind)
    return list(await session.scalars(query.order_by(ScheduledTask.due_at, ScheduledTask.id)))
