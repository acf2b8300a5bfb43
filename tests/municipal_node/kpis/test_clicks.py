"""The click redirect ``GET /c/{tenant}/{campaign}/{phase}``: +1 then 302 to the application
page; concurrent taps all counted; unknown or foreign ids 404 and count nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select

from municipal_node.campaigns.models import Campaign, PhaseClick
from municipal_node.db.engine import unit_of_work
from municipal_node.tenants.models import Tenant
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT, LiveServer, new_ulid

OTHER = "23100"


async def _campaign(node: Node, tenant: str) -> int:
    now = node.clock.now()
    async with unit_of_work(node.sessions) as session:
        campaign = Campaign(
            tenant_code=tenant, publisher="gov-cfa", notice_id=new_ulid(), title="現況届",
            opens_at=now, closes_at=now + timedelta(days=14), rule_id=None, spec={},
            quiet_start="21:00", quiet_end="08:00", skip_holidays=False, baseline_rate=None,
            form=[], state="active", created_by="test", created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(campaign)
        await session.flush()
        return campaign.id


async def _clicks(node: Node) -> dict[tuple[int, str], int]:
    async with node.sessions() as session:
        rows = await session.execute(
            select(PhaseClick.campaign_id, PhaseClick.phase, PhaseClick.clicks)
        )
        return {(int(c), str(p)): int(n) for c, p, n in rows}


async def _set_tenant(node: Node, **values: str) -> None:
    async with unit_of_work(node.sessions) as session:
        tenant = await session.get(Tenant, TENANT)
        assert tenant is not None
        for name, value in values.items():
            setattr(tenant, name, value)


async def test_a_tap_counts_and_redirects_to_the_application_page(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    campaign_id = await _campaign(node, TENANT)
    await _set_tenant(node, public_base_url="https://todoke.example.lg.jp")

    for _ in range(3):
        response = await node_http.get(f"/c/{TENANT}/{campaign_id}/open")
        assert response.status_code == 302
        assert response.headers["location"] == (
            f"https://todoke.example.lg.jp/liff/{TENANT}/campaigns/{campaign_id}"
        )
        assert "set-cookie" not in response.headers
    await node_http.get(f"/c/{TENANT}/{campaign_id}/reminder")
    assert await _clicks(node) == {(campaign_id, "open"): 3, (campaign_id, "reminder"): 1}


async def test_with_a_liff_app_a_tap_leads_to_the_forms_liff_url(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    """LINE opens a LIFF app logged in, in its LIFF browser, only from a LIFF URL."""
    await node.add_tenant()
    campaign_id = await _campaign(node, TENANT)
    await _set_tenant(
        node,
        public_base_url="https://todoke.example.lg.jp",
        liff_id="1655000000-AbCdEfGh",
        login_channel_id="1655000000",
    )
    response = await node_http.get(f"/c/{TENANT}/{campaign_id}/open")
    assert response.status_code == 302
    assert response.headers["location"] == (
        f"https://liff.line.me/1655000000-AbCdEfGh/campaigns/{campaign_id}"
    )
    assert await _clicks(node) == {(campaign_id, "open"): 1}


async def test_unknown_and_foreign_links_are_404_and_count_nothing(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    await node.add_tenant(code=OTHER)
    mine = await _campaign(node, TENANT)
    theirs = await _campaign(node, OTHER)
    for path in (
        f"/c/{TENANT}/{theirs}/open",  # another tenant's campaign under my code
        f"/c/{TENANT}/999999/open",
        f"/c/{TENANT}/{mine}/single",  # not a campaign phase
        f"/c/{TENANT}/abc/open",
        f"/c/{TENANT}/{'9' * 40}/open",
        f"/c/99999/{mine}/open",
    ):
        response = await node_http.get(path)
        assert response.status_code == 404, path
        assert "ページが見つかりません" in response.text
    assert await _clicks(node) == {}


async def test_concurrent_taps_are_all_counted(node: Node, live_node: LiveServer) -> None:
    await node.add_tenant()
    campaign_id = await _campaign(node, TENANT)
    async with httpx.AsyncClient(timeout=30) as client:
        answers = await asyncio.gather(
            *(client.get(f"{live_node.url}/c/{TENANT}/{campaign_id}/open") for _ in range(40))
        )
    assert [a.status_code for a in answers] == [302] * 40
    assert answers[0].headers["location"] == f"/liff/{TENANT}/campaigns/{campaign_id}"
    assert await _clicks(node) == {(campaign_id, "open"): 40}
