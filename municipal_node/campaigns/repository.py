"""Campaign rows, always by tenant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.campaigns.models import Campaign, CampaignPhase, CampaignPhaseName


async def get(session: AsyncSession, tenant_code: str, campaign_id: int) -> Campaign | None:
    return await session.scalar(
        select(Campaign).where(Campaign.tenant_code == tenant_code, Campaign.id == campaign_id)
    )


async def for_notice(
    session: AsyncSession, tenant_code: str, publisher: str, notice_id: str
) -> Campaign | None:
    return await session.scalar(
        select(Campaign).where(
            Campaign.tenant_code == tenant_code,
            Campaign.publisher == publisher,
            Campaign.notice_id == notice_id,
        )
    )


async def list_for_tenant(
    session: AsyncSession, tenant_code: str, *, states: Sequence[str] | None = None
) -> list[Campaign]:
    query = select(Campaign).where(Campaign.tenant_code == tenant_code)
    if states:
        query = query.where(Campaign.state.in_(list(states)))
    return list(await session.scalars(query.order_by(Campaign.opens_at, Campaign.id)))


def _order(phase: CampaignPhase) -> int:
    return CampaignPhaseName.ALL.index(phase.phase) if phase.phase in CampaignPhaseName.ALL else 9


async def phases_of(
    session: AsyncSession, tenant_code: str, campaign_ids: Sequence[int]
) -> dict[int, list[CampaignPhase]]:
    """The phases of these campaigns, in phase order."""
    found: dict[int, list[CampaignPhase]] = {campaign_id: [] for campaign_id in campaign_ids}
    if not campaign_ids:
        return found
    rows = await session.scalars(
        select(CampaignPhase).where(
            CampaignPhase.tenant_code == tenant_code,
            CampaignPhase.campaign_id.in_(list(campaign_ids)),
        )
    )
    for row in rows:
        found.setdefault(row.campaign_id, []).append(row)
    for phases in found.values():
        phases.sort(key=_order)
    return found


async def get_phase(
    session: AsyncSession, tenant_code: str, campaign_id: int, phase: str
) -> CampaignPhase | None:
    return await session.scalar(
        select(CampaignPhase).where(
            CampaignPhase.tenant_code == tenant_code,
            CampaignPhase.campaign_id == campaign_id,
            CampaignPhase.phase == phase,
        )
    )
