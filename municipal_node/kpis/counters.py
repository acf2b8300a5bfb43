"""The click counters of campaign phases (``phase_clicks``): +1 per tap, read per campaign.
No resident is named: a counter per (campaign, phase) and nothing else."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.campaigns.models import PhaseClick
from municipal_node.db.upsert import insert_for


async def count_click(
    session: AsyncSession, *, tenant_code: str, campaign_id: int, phase: str, now: datetime
) -> None:
    """+1 on the (campaign, phase) counter, created at 1 when it does not exist yet."""
    statement = insert_for(session, PhaseClick).values(
        campaign_id=campaign_id, tenant_code=tenant_code, phase=phase, clicks=1, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[PhaseClick.campaign_id, PhaseClick.phase],
        set_={"clicks": PhaseClick.clicks + 1, "updated_at": now},
    )
    await session.execute(statement)


async def clicks_by_phase(
    session: AsyncSession, *, tenant_code: str, campaign_id: int
) -> dict[str, int]:
    rows = await session.execute(
        select(PhaseClick.phase, PhaseClick.clicks).where(
            PhaseClick.tenant_code == tenant_code, PhaseClick.campaign_id == campaign_id
        )
    )
    return {str(phase): int(clicks) for phase, clicks in rows}
