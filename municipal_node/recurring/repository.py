"""Every query of recurring rules, and of the scheduler tasks that belong to them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.recurring.models import RecurringRule
from municipal_node.scheduler.models import ScheduledTask, TaskState

KIND = "recurring"


def key_prefix(rule_id: int) -> str:
    return f"{KIND}:{rule_id}:"


async def list_rules(session: AsyncSession, tenant_code: str) -> list[RecurringRule]:
    result = await session.scalars(
        select(RecurringRule)
        .where(RecurringRule.tenant_code == tenant_code)
        .order_by(RecurringRule.id)
    )
    return list(result)


async def get_rule(session: AsyncSession, tenant_code: str, rule_id: int) -> RecurringRule | None:
    return await session.scalar(
        select(RecurringRule).where(
            RecurringRule.tenant_code == tenant_code, RecurringRule.id == rule_id
        )
    )


async def rule_by_name(session: AsyncSession, tenant_code: str, name: str) -> RecurringRule | None:
    return await session.scalar(
        select(RecurringRule).where(
            RecurringRule.tenant_code == tenant_code, RecurringRule.name == name
        )
    )


async def add(session: AsyncSession, rule: RecurringRule) -> RecurringRule:
    session.add(rule)
    await session.flush()
    return rule


async def pending_tasks(
    session: AsyncSession, tenant_code: str, rule_id: int
) -> list[ScheduledTask]:
    """The rule's tasks that have not run yet (normally one: the next occurrence)."""
    result = await session.scalars(
        select(ScheduledTask)
        .where(
            ScheduledTask.tenant_code == tenant_code,
            ScheduledTask.kind == KIND,
            ScheduledTask.key.startswith(key_prefix(rule_id), autoescape=True),
            ScheduledTask.state == TaskState.PENDING,
        )
        .order_by(ScheduledTask.due_at)
    )
    return list(result)
