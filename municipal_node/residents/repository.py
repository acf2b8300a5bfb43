from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.db.upsert import insert_for
from municipal_node.line.models import LineFriend
from municipal_node.residents.models import Resident


async def unlink_all_line_users(session: AsyncSession, tenant_code: str) -> None:
    """Clear every ``line_user_id`` of the tenant (inside an import: a LINE user may move
    from one resident to another in the new file, and the unique key must not trip)."""
    await session.execute(
        update(Resident)
        .where(Resident.tenant_code == tenant_code, Resident.line_user_id.is_not(None))
        .values(line_user_id=None)
        .execution_options(synchronize_session=False)
    )


async def existing_ids(session: AsyncSession, tenant_code: str, ids: Sequence[str]) -> set[str]:
    result = await session.scalars(
        select(Resident.resident_id).where(
            Resident.tenant_code == tenant_code, Resident.resident_id.in_(ids)
        )
    )
    return set(result)


async def upsert_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """One executemany ``INSERT ... ON CONFLICT DO UPDATE`` for a batch of residents."""
    if not rows:
        return
    stmt = insert_for(session, Resident)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_code", "resident_id"],
        set_={
            "sealed": stmt.excluded.sealed,
            "district": stmt.excluded.district,
            "line_user_id": stmt.excluded.line_user_id,
            "import_id": stmt.excluded.import_id,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    await session.execute(stmt, rows)


async def remove_not_in_import(session: AsyncSession, tenant_code: str, import_id: str) -> int:
    result = await session.execute(
        delete(Resident)
        .where(Resident.tenant_code == tenant_code, Resident.import_id != import_id)
        .execution_options(synchronize_session=False)
    )
    return int(cast(CursorResult[Any], result).rowcount)


async def count(session: AsyncSession, tenant_code: str) -> int:
    value = await session.scalar(
        select(func.count()).select_from(Resident).where(Resident.tenant_code == tenant_code)
    )
    return int(value or 0)


async def friend_residents_page(
    session: AsyncSession, tenant_code: str, *, after: str | None, limit: int
) -> list[tuple[str, str, bytes]]:
    """(resident_id, line_user_id, sealed) of residents whose LINE user is a friend now,
    ordered by resident_id, starting after ``after`` (keyset pagination)."""
    query = (
        select(Resident.resident_id, Resident.line_user_id, Resident.sealed)
        .join(
            LineFriend,
            (LineFriend.tenant_code == Resident.tenant_code)
            & (LineFriend.user_id == Resident.line_user_id),
        )
        .where(Resident.tenant_code == tenant_code, LineFriend.is_friend.is_(True))
        .order_by(Resident.resident_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Resident.resident_id > after)
    result = await session.execute(query)
    return [(rid, str(uid), sealed) for rid, uid, sealed in result]


async def sealed_by_line_user(
    session: AsyncSession, tenant_code: str, user_ids: Sequence[str]
) -> list[tuple[str, bytes]]:
    """(resident_id, sealed) of the residents linked to these LINE users."""
    if not user_ids:
        return []
    result = await session.execute(
        select(Resident.resident_id, Resident.sealed).where(
            Resident.tenant_code == tenant_code, Resident.line_user_id.in_(user_ids)
        )
    )
    return [(resident_id, sealed) for resident_id, sealed in result]
