"""``GET /api/tenants/{code}/campaigns/{campaign_id}/kpis`` (viewer): a campaign's KPIs.

Opens are read from LINE insight at request time (the tenant's channel; ``None`` with a reason
when LINE withholds or cannot answer). Refusals are ``{"detail": {"code", "message"}}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.kpis.insight import LineInsight
from municipal_node.kpis.schemas import CampaignKpis
from municipal_node.kpis.service import KpiError, campaign_kpis
from municipal_node.segments.http_errors import ApiError, ApiRoute
from municipal_node.tenants.service import load_config

router = APIRouter(prefix="/api/tenants/{code}", route_class=ApiRoute, tags=["kpis"])

Viewer = Annotated[TenantAccess, Depends(tenant_access(Role.VIEWER, Role.EDITOR, Role.APPROVER))]


@router.get("/campaigns/{campaign_id}/kpis")
async def read_kpis(
    access: Viewer, session: SessionDep, state: StateDep, campaign_id: int
) -> CampaignKpis:
    """配信・開封・クリック・申請の指標 / reach, opens, clicks and applications per phase."""
    config = await load_config(session, access.tenant_code, sealer=state.sealer)
    if config is None:  # tenant_access checked it exists; a race with removal only
        raise ApiError("UNKNOWN_TENANT", "自治体が見つかりません / unknown tenant", 404)
    try:
        async with LineInsight(
            base_url=config.line_api_base_url,
            access_token=config.line_access_token,
            timeout_seconds=state.settings.line_timeout_seconds,
        ) as insight:
            return await campaign_kpis(
                session,
                tenant_code=access.tenant_code,
                campaign_id=campaign_id,
                now=state.clock.now(),
                insight=insight,
            )
    except KpiError as exc:
        raise ApiError(exc.code, exc.message, 404) from exc
