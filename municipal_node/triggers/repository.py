"""Every query of date triggers: settings, fires, and the page of candidates (linked friends
who want the topic), which is the segments' one page query (``segments.repository``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.notice import AgeRange
from municipal_node.db.upsert import insert_for
from municipal_node.scheduler.models import ScheduledTask, TaskState
from municipal_node.segments import repository as segments
from municipal_node.segments.match import Row
from municipal_node.segments.spec import SegmentSpec
from municipal_node.triggers.models import TriggerFire, TriggerSetting

KIND = "triggers_daily"

#: ages (months) a trigger can concern: the spec only makes the page query select linked
#: residents' sealed records; the trigger's own dates decide (``definitions``)
_ANY_CHILD = AgeRange(min=0, max=240)
#: rows per INSERT (bind parameters stay far below every backend's limit)
_INSERT_ROWS = 1000


def candidate_spec(topic: str) -> SegmentSpec:
    """Current friends, never stopped, who chose ``topic``, linked to a resident record."""
    return SegmentSpec(interests=[topic], child_age_months=_ANY_CHILD, linked_only=True)


async def candidate_page(
    session: AsyncSession, *, tenant_code: str, topic: str, after: str | None, limit: int
) -> list[Row]:
    """Up to ``limit`` candidates after LINE user ``after`` (keyset), with sealed records."""
    return await segments.recipient_page(
        session,
        tenant_code=tenant_code,
        spec=candidate_spec(topic),
        after=after,
        limit=limit,
        details=True,
    )


async def list_settings(session: AsyncSession, tenant_code: str) -> list[TriggerSetting]:
    result = await session.scalars(
        select(TriggerSetting)
        .where(TriggerSetting.tenant_code == tenant_code)
        .order_by(TriggerSetting.id)
    )
    return list(result)


async def get_setting(
    session: AsyncSession, tenant_code: str, trigger: str
) -> TriggerSetting | None:
    return await session.scalar(
        select(TriggerSetting).where(
            TriggerSetting.tenant_code == tenant_code, TriggerSetting.trigger == trigger
        )
    )


async def add_setting(session: AsyncSession, setting: TriggerSetting) -> None:
    session.add(setting)
    await session.flush()


async def insert_fires(
    session: AsyncSession,
    *,
    tenant_code: str,
    trigger: str,
    fire_key: str,
    subjects: Sequence[tuple[str, str]],
    now: datetime,
) -> int:
    """Insert (subject_key, line_user_id) fires unless the subject fired before; how many
    were new."""
    inserted = 0
    for start in range(0, len(subjects), _INSERT_ROWS):
        statement = (
            insert_for(session, TriggerFire)
            .values(
                [
                    {
                        "tenant_code": tenant_code,
                        "trigger": trigger,
                        "subject_key": subject,
                        "fire_key": fire_key,
                        "line_user_id": user_id,
                        "fired_at": now,
                    }
                    for subject, user_id in subjects[start : start + _INSERT_ROWS]
                ]
            )
            .on_conflict_do_nothing(index_elements=["tenant_code", "trigger", "subject_key"])
        )
        result = await session.execute(statement.execution_options(preserve_rowcount=True))
        inserted += int(cast(CursorResult[Any], result).rowcount)
    return inserted


async def recently_reached(
    session: AsyncSession,
    *,
    tenant_code: str,
    trigger: str,
    user_ids: Sequence[str],
    since: datetime,
) -> set[str]:
    """Which of ``user_ids`` this trigger reached at or after ``since``."""
    if not user_ids:
        return set()
    result = await session.scalars(
        select(TriggerFire.line_user_id)
        .where(
            TriggerFire.tenant_code == tenant_code,
            TriggerFire.trigger == trigger,
            TriggerFire.line_user_id.in_(list(user_ids)),
            TriggerFire.fired_at >= since,
        )
        .distinct()
    )
    return set(result)


async def count_fires(
    session: AsyncSession, tenant_code: str, *, fire_key: str | None = None
) -> dict[str, int]:
    """Fires per trigger (of one ``fire_key`` when given)."""
    query = (
        select(TriggerFire.trigger, func.count())
        .where(TriggerFire.tenant_code == tenant_code)
        .group_by(TriggerFire.trigger)
    )
    if fire_key is not None:
        query = query.where(TriggerFire.fire_key == fire_key)
    return {trigger: int(count) for trigger, count in await session.execute(query)}


async def pending_daily(session: AsyncSession, tenant_code: str) -> list[ScheduledTask]:
    result = await session.scalars(
        select(ScheduledTask)
        .where(
            ScheduledTask.tenant_code == tenant_code,
            ScheduledTask.kind == KIND,
            ScheduledTask.state == TaskState.PENDING,
        )
        .order_by(ScheduledTask.due_at)
    )
    return list(result)
