"""``GET /c/{tenant_code}/{campaign_id}/{phase}``: the button of a campaign message.

One tap adds 1 to ``phase_clicks`` of (campaign, phase) in one atomic statement (INSERT … ON
CONFLICT DO UPDATE SET clicks = clicks + 1, so concurrent taps are never lost), then answers
302 to the campaign's form: its LIFF URL when the tenant has a LIFF app (LINE opens it in the
LIFF browser, logged in), else the page itself. Nothing about the resident is read or kept: no cookie,
no user id, no log line with the client's address. Unknown tenant, campaign (or one of another
tenant) or phase → 404 with a Japanese page; nothing is counted.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from municipal_node.api.deps import SessionDep, StateDep
from municipal_node.campaigns.links import application_url, liff_url
from municipal_node.campaigns.models import Campaign, CampaignPhaseName
from municipal_node.kpis.counters import count_click
from municipal_node.tenants import repository as tenants

router = APIRouter(tags=["campaign clicks"])

_NOT_FOUND = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ページが見つかりません</title></head>
<body><h1>ページが見つかりません</h1>
<p>このリンクは無効です。お知らせのメッセージをもう一度ご確認ください。</p>
<p lang="en">This link is not valid.</p></body></html>
"""


@router.get("/c/{tenant_code}/{campaign_id}/{phase}", include_in_schema=False)
async def click(
    tenant_code: str, campaign_id: str, phase: str, session: SessionDep, state: StateDep
) -> Response:
    if not campaign_id.isdigit() or len(campaign_id) > 18 or phase not in CampaignPhaseName.ALL:
        return HTMLResponse(_NOT_FOUND, status_code=404)
    campaign = await session.scalar(
        select(Campaign.id).where(
            Campaign.tenant_code == tenant_code, Campaign.id == int(campaign_id)
        )
    )
    tenant = await tenants.get(session, tenant_code) if campaign is not None else None
    if campaign is None or tenant is None:
        return HTMLResponse(_NOT_FOUND, status_code=404)
    await count_click(
        session,
        tenant_code=tenant_code,
        campaign_id=int(campaign),
        phase=phase,
        now=state.clock.now(),
    )
    base = tenant.public_base_url or ""
    if tenant.liff_id:
        target = liff_url(state.settings.liff_url_base, tenant.liff_id, int(campaign))
    elif base:
        target = application_url(base, tenant_code, int(campaign))
    else:
        target = f"/liff/{tenant_code}/campaigns/{int(campaign)}"
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})
