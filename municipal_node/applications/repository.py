"""Every query on ``applications``.

A friend has applied to a campaign when an ``applications`` row of the campaign carries their
LINE user id, or the ``resident_id`` of the resident record linked to them
(``residents.line_user_id``). Both are checked at the time of the query, so a counter
application imported before the resident linked their LINE account still counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from municipal_node.applications.models import Application
from municipal_node.campaigns.models import Campaign
from municipal_node.residents.models import Resident

#: user ids per query (SQLite's bound-parameter limit; PostgreSQL plans stay small)
_CHUNK = 500


async def applied_user_ids(
    session: AsyncSession, tenant_code: str, campaign_id: int, user_ids: Sequence[str]
) -> set[str]:
    """The subset of ``user_ids`` (LINE user ids) that has applied to the campaign, online or
    at the counter."""
    found: set[str] = set()
    unique = list(dict.fromkeys(user_ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        direct = select(Application.line_user_id).where(
            Application.tenant_code == tenant_code,
            Application.campaign_id == campaign_id,
            Application.line_user_id.in_(chunk),
        )
        via_record = (
            select(Resident.line_user_id)
            .join(
                Application,
                and_(
                    Application.tenant_code == Resident.tenant_code,
                    Application.resident_id == Resident.resident_id,
                ),
            )
            .where(
                Resident.tenant_code == tenant_code,
                Resident.line_user_id.in_(chunk),
                Application.campaign_id == campaign_id,
            )
        )
        for statement in (direct, via_record):
            for user_id in (await session.scalars(statement)).all():
                if user_id is not None:
                    found.add(user_id)
    return found


async def count_applied(
    session: AsyncSession,
    tenant_code: str,
    campaign_id: int,
    *,
    before: datetime | None = None,
) -> int:
    """How many people applied to the campaign (``applied_at < before`` when given).

    One person can hold two rows: an online application made before their LINE account was
    linked (``line_user_id`` only) and a counter application imported for their record
    (``resident_id`` only) that is linked to that LINE account now. Such a pair counts once.
    """

    def _window(row: type[Application]) -> list[ColumnElement[bool]]:
        clauses = [row.tenant_code == tenant_code, row.campaign_id == campaign_id]
        if before is not None:
            clauses.append(row.applied_at < before)
        return clauses

    total = await session.scalar(
        select(func.count()).select_from(Application).where(*_window(Application))
    )
    online = aliased(Application)
    counter = aliased(Application)
    pairs = await session.scalar(
        select(func.count())
        .select_from(online)
        .join(
            Resident,
            and_(Resident.tenant_code == tenant_code, Resident.line_user_id == online.line_user_id),
        )
        .join(
            counter,
            and_(
                counter.tenant_code == tenant_code,
                counter.campaign_id == campaign_id,
                counter.resident_id == Resident.resident_id,
                counter.id != online.id,
            ),
        )
        .where(*_window(online), *_window(counter))
    )
    return int(total or 0) - int(pairs or 0)


async def get_campaign(
    session: AsyncSession, tenant_code: str, campaign_id: int
) -> Campaign | None:
    """The tenant's campaign (None when it is another tenant's or does not exist)."""
    campaign: Campaign | None = await session.scalar(
        select(Campaign).where(Campaign.tenant_code == tenant_code, Campaign.id == campaign_id)
    )
    return campaign


async def linked_resident_id(session: AsyncSession, tenant_code: str, user_id: str) -> str | None:
    """The resident record linked (ID連携) to this LINE user, if any."""
    found: str | None = await session.scalar(
        select(Resident.resident_id).where(
            Resident.tenant_code == tenant_code, Resident.line_user_id == user_id
        )
    )
    return found


async def application_of(
    session: AsyncSession,
    tenant_code: str,
    campaign_id: int,
    *,
    user_id: str,
    resident_id: str | None,
) -> Application | None:
    """The application that makes this friend "applied" (their own or their record's)."""
    match = Application.line_user_id == user_id
    if resident_id is not None:
        match = or_(match, Application.resident_id == resident_id)
    found: Application | None = await session.scalar(
        select(Application)
        .where(
            Application.tenant_code == tenant_code, Application.campaign_id == campaign_id, match
        )
        .order_by(Application.applied_at, Application.id)
        .limit(1)
    )
    return found


async def residents_links(
    session: AsyncSession, tenant_code: str, resident_ids: Sequence[str]
) -> dict[str, str | None]:
    """``resident_id → line_user_id`` for the tenant's residents among ``resident_ids``."""
    out: dict[str, str | None] = {}
    for start in range(0, len(resident_ids), _CHUNK):
        chunk = list(resident_ids[start : start + _CHUNK])
        rows = await session.execute(
            select(Resident.resident_id, Resident.line_user_id).where(
                Resident.tenant_code == tenant_code, Resident.resident_id.in_(chunk)
            )
        )
        for resident_id, user_id in rows.all():
            out[resident_id] = user_id
    return out


async def taken(
    session: AsyncSession,
    tenant_code: str,
    campaign_id: int,
    *,
    resident_ids: Sequence[str],
    user_ids: Sequence[str],
) -> tuple[set[str], set[str]]:
    """Of ``resident_ids`` and ``user_ids``, those that already have an application row of the
    campaign (``(resident ids, user ids)``)."""
    residents: set[str] = set()
    users: set[str] = set()
    scope = (Application.tenant_code == tenant_code, Application.campaign_id == campaign_id)
    for start in range(0, len(resident_ids), _CHUNK):
        chunk = list(resident_ids[start : start + _CHUNK])
        found = await session.scalars(
            select(Application.resident_id).where(*scope, Application.resident_id.in_(chunk))
        )
        residents.update(value for value in found.all() if value is not None)
    for start in range(0, len(user_ids), _CHUNK):
        chunk = list(user_ids[start : start + _CHUNK])
        found = await session.scalars(
            select(Application.line_user_id).where(*scope, Application.line_user_id.in_(chunk))
        )
        users.update(value for value in found.all() if value is not None)
    return residents, users
