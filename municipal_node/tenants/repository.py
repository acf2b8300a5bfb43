from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.tenants.models import Tenant


async def get(session: AsyncSession, code: str) -> Tenant | None:
    return await session.get(Tenant, code)


async def list_codes(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(Tenant.code).order_by(Tenant.code)))


async def add(session: AsyncSession, tenant: Tenant) -> None:
    session.add(tenant)
    await session.flush()


async def current_cursor(session: AsyncSession, code: str) -> int | None:
    value = await session.scalar(select(Tenant.feed_cursor).where(Tenant.code == code))
    return None if value is None else int(value)


async def advance_cursor(session: AsyncSession, code: str, *, from_seq: int, to_seq: int) -> bool:
    """Move the cursor ``from_seq`` → ``to_seq``; False when someone else moved it first."""
    result = await session.execute(
        update(Tenant)
        .where(Tenant.code == code, Tenant.feed_cursor == from_seq)
        .values(feed_cursor=to_seq)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1
