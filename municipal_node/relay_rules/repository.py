"""Every query of templates, relay rules and send approvals (all scoped by tenant)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.db.upsert import insert_for
from municipal_node.relay_rules.models import MessageTemplate, RelayRule, SendApproval


async def list_templates(session: AsyncSession, tenant_code: str) -> list[MessageTemplate]:
    result = await session.scalars(
        select(MessageTemplate)
        .where(MessageTemplate.tenant_code == tenant_code)
        .order_by(MessageTemplate.id)
    )
    return list(result)


async def get_template(
    session: AsyncSession, tenant_code: str, template_id: int
) -> MessageTemplate | None:
    return await session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.tenant_code == tenant_code, MessageTemplate.id == template_id
        )
    )


async def template_by_name(
    session: AsyncSession, tenant_code: str, name: str
) -> MessageTemplate | None:
    return await session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.tenant_code == tenant_code, MessageTemplate.name == name
        )
    )


async def rules_using_template(
    session: AsyncSession, tenant_code: str, template_id: int
) -> list[str]:
    result = await session.scalars(
        select(RelayRule.name)
        .where(RelayRule.tenant_code == tenant_code, RelayRule.template_id == template_id)
        .order_by(RelayRule.id)
    )
    return list(result)


async def rules_in_order(session: AsyncSession, tenant_code: str) -> list[RelayRule]:
    """Every rule of the tenant, in the order they are tried (priority, then id)."""
    result = await session.scalars(
        select(RelayRule)
        .where(RelayRule.tenant_code == tenant_code)
        .order_by(RelayRule.priority, RelayRule.id)
    )
    return list(result)


async def get_rule(session: AsyncSession, tenant_code: str, rule_id: int) -> RelayRule | None:
    return await session.scalar(
        select(RelayRule).where(RelayRule.tenant_code == tenant_code, RelayRule.id == rule_id)
    )


async def rule_by_name(session: AsyncSession, tenant_code: str, name: str) -> RelayRule | None:
    return await session.scalar(
        select(RelayRule).where(RelayRule.tenant_code == tenant_code, RelayRule.name == name)
    )


async def add(session: AsyncSession, row: MessageTemplate | RelayRule) -> None:
    session.add(row)
    await session.flush()


async def remove(session: AsyncSession, row: MessageTemplate | RelayRule) -> None:
    await session.delete(row)
    await session.flush()


async def add_approval(
    session: AsyncSession, *, tenant_code: str, job_id: int, approver: str, at: datetime
) -> bool:
    """Record one approval; False when this approver had already approved (counts once)."""
    stmt = (
        insert_for(session, SendApproval)
        .values(tenant_code=tenant_code, job_id=job_id, approver=approver, at=at)
        .on_conflict_do_nothing(index_elements=["job_id", "approver"])
        .returning(SendApproval.id)
    )
    return (await session.scalar(stmt)) is not None


async def approvers_of(session: AsyncSession, tenant_code: str, job_id: int) -> list[str]:
    result = await session.scalars(
        select(SendApproval.approver)
        .where(SendApproval.tenant_code == tenant_code, SendApproval.job_id == job_id)
        .order_by(SendApproval.at, SendApproval.id)
    )
    return list(result)


async def approval_count(session: AsyncSession, tenant_code: str, job_id: int) -> int:
    value = await session.scalar(
        select(func.count(func.distinct(SendApproval.approver))).where(
            SendApproval.tenant_code == tenant_code, SendApproval.job_id == job_id
        )
    )
    return int(value or 0)
