"""``/api/tenants/{code}/campaigns``: viewers list and read campaigns with their phases;
editors make one from a stored notice, change a phase, cancel, and enter last year's rate."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends

from municipal_node.api.auth import Role, TenantAccess, tenant_access
from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.campaigns import repository, service
from municipal_node.campaigns.schemas import (
    BaselineIn,
    CampaignIn,
    CampaignOut,
    CancelIn,
    PhasePatch,
)
from municipal_node.segments.http_errors import ApiError, ApiRoute
from municipal_node.tenants.schemas import TenantConfig
from municipal_node.tenants.service import load_config

router = APIRouter(prefix="/api/tenants/{code}", route_class=ApiRoute, tags=["campaigns"])

Editor = Annotated[TenantAccess, Depends(tenant_access(Role.EDITOR))]
Viewer = Annotated[TenantAccess, Depends(tenant_access(Role.VIEWER, Role.EDITOR, Role.APPROVER))]
PhaseName = Literal["preview", "open", "reminder"]


async def _config(session: SessionDep, state: StateDep, code: str) -> TenantConfig:
    config = await load_config(session, code, sealer=state.sealer)
    if config is None:  # tenant_access checked it; never a 500
        raise ApiError("UNKNOWN_TENANT", "自治体が見つかりません / unknown tenant", 404)
    return config


async def _out(
    session: SessionDep, tenant_code: str, campaign_id: int, *, with_messages: bool = True
) -> CampaignOut:
    campaign = await service.get_campaign(session, tenant_code, campaign_id)
    phases = await repository.phases_of(session, tenant_code, [campaign_id])
    return CampaignOut.of(campaign, phases[campaign_id], with_messages=with_messages)


@router.get("/campaigns")
async def list_campaigns(access: Viewer, session: SessionDep) -> list[CampaignOut]:
    campaigns = await repository.list_for_tenant(session, access.tenant_code)
    phases = await repository.phases_of(session, access.tenant_code, [c.id for c in campaigns])
    return [CampaignOut.of(c, phases[c.id]) for c in campaigns]


@router.get("/campaigns/{campaign_id}")
async def get_campaign(access: Viewer, campaign_id: int, session: SessionDep) -> CampaignOut:
    return await _out(session, access.tenant_code, campaign_id)


@router.post("/campaigns", status_code=201)
async def create_campaign(
    access: Editor, body: CampaignIn, session: SessionDep, state: StateDep
) -> CampaignOut:
    tenant = await _config(session, state, access.tenant_code)
    campaign_id = await service.create_for_notice(
        session,
        tenant=tenant,
        publisher=body.publisher,
        notice_id=body.notice_id,
        now=state.clock.now(),
        actor=access.actor,
        options=service.CampaignOptions(
            title=body.title,
            quiet_start=body.quiet_start,
            quiet_end=body.quiet_end,
            skip_holidays=body.skip_holidays,
            baseline_rate=body.baseline_rate,
        ),
    )
    return await _out(session, access.tenant_code, campaign_id)


@router.patch("/campaigns/{campaign_id}/phases/{phase}")
async def change_phase(
    access: Editor,
    campaign_id: int,
    phase: PhaseName,
    body: PhasePatch,
    session: SessionDep,
    state: StateDep,
) -> CampaignOut:
    tenant = await _config(session, state, access.tenant_code)
    await service.change_phase(
        session,
        tenant=tenant,
        campaign_id=campaign_id,
        phase=phase,
        change=service.PhaseChange(
            send_at=body.send_at, enabled=body.enabled, text=body.text, alt_text=body.alt_text
        ),
        now=state.clock.now(),
        actor=access.actor,
    )
    return await _out(session, access.tenant_code, campaign_id)


@router.post("/campaigns/{campaign_id}/cancel")
async def cancel_campaign(
    access: Editor, campaign_id: int, body: CancelIn, session: SessionDep, state: StateDep
) -> CampaignOut:
    await service.cancel_campaign(
        session,
        tenant_code=access.tenant_code,
        campaign_id=campaign_id,
        reason=body.reason,
        now=state.clock.now(),
        actor=access.actor,
    )
    return await _out(session, access.tenant_code, campaign_id)


@router.put("/campaigns/{campaign_id}/baseline")
async def set_baseline(
    access: Editor, campaign_id: int, body: BaselineIn, session: SessionDep, state: StateDep
) -> CampaignOut:
    await service.set_baseline(
        session,
        tenant_code=access.tenant_code,
        campaign_id=campaign_id,
        rate=body.rate,
        now=state.clock.now(),
        actor=access.actor,
    )
    return await _out(session, access.tenant_code, campaign_id)
