from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.audit.models import AuditEntry


async def record(
    session: AsyncSession,
    *,
    tenant_code: str | None,
    actor: str,
    action: str,
    at: datetime,
    count: int,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            tenant_code=tenant_code,
            actor=actor,
            action=action,
            at=at,
            count=count,
            detail=detail or {},
        )
    )
    await session.flush()


async def list_for_tenant(session: AsyncSession, tenant_code: str) -> list[AuditEntry]:
    result = await session.scalars(
        select(AuditEntry).where(AuditEntry.tenant_code == tenant_code).order_by(AuditEntry.id)
    )
    return list(result)
