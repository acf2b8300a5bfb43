"""A node tenant with a LIFF app on the REAL sandbox, residents, and a campaign open at NOW."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from line_sandbox.residents import simulated_user_id
from municipal_node.applications.service import set_liff
from municipal_node.campaigns.models import Campaign
from municipal_node.db.engine import unit_of_work
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import CHANNEL, NOW, TENANT, LiveServer, write_csv

LOGIN_CHANNEL = "1654000000"
LIFF_ID = f"{LOGIN_CHANNEL}-TodokeAp"
FORM: list[dict[str, Any]] = [
    {"name": "kouza", "label": "振込先の変更", "type": "select", "required": True,
     "options": ["変更なし", "変更あり"]},
    {"name": "consent", "label": "記載内容に間違いありません", "type": "checkbox",
     "required": True},
    {"name": "memo", "label": "連絡事項", "type": "textarea"},
]  # fmt: skip
GOOD_ANSWERS = {"kouza": "変更なし", "consent": True, "memo": "平日午後は不在です"}


def uid(index: int) -> str:
    """The sandbox's simulated resident ``index`` of CHANNEL."""
    return simulated_user_id(CHANNEL, index)


@dataclass
class LiffSetup:
    node: Node
    sandbox_url: str
    campaign_id: int
    other_campaign_id: int  # another tenant's

    async def id_token(self, index: int, **extra: Any) -> str:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{self.sandbox_url}/sandbox/channels/{CHANNEL}/id-token",
                json={"user_id": uid(index), "liff_id": LIFF_ID, **extra},
            )
        response.raise_for_status()
        token: str = response.json()["id_token"]
        return token


async def add_campaign(
    node: Node,
    *,
    tenant: str = TENANT,
    notice_id: str = "01JCAMPAIGN000000000000001",
    **extra: Any,
) -> int:
    async with unit_of_work(node.sessions) as session:
        values: dict[str, Any] = {
            "tenant_code": tenant,
            "publisher": "gov-cfa",
            "notice_id": notice_id,
            "title": "児童扶養手当 現況届",
            "opens_at": NOW - timedelta(days=1),
            "closes_at": NOW + timedelta(days=30),
            "rule_id": None,
            "spec": {},
            "form": FORM,
            "state": "active",
            "created_by": "test",
            "created_at": NOW,
            "updated_at": NOW,
        }
        values.update(extra)
        campaign = Campaign(**values)
        session.add(campaign)
        await session.flush()
        return int(campaign.id)


@pytest.fixture
async def liff(node: Node, live_sandbox: LiveServer, tmp_path: Path) -> AsyncIterator[LiffSetup]:
    """TENANT on the live sandbox with LIFF set up; residents R001–R006 (R001, R002 linked to
    simulated residents 1 and 2); campaign open from NOW-1d to NOW+30d with ``FORM``; and
    tenant 23236 with its own campaign."""
    async with httpx.AsyncClient(base_url=live_sandbox.url, timeout=30) as client:
        (await client.post(f"/sandbox/channels/{CHANNEL}/friends", json={"count": 10}))
        response = await client.post(
            f"/sandbox/channels/{CHANNEL}/liff-apps",
            json={
                "liff_id": LIFF_ID,
                "login_channel_id": LOGIN_CHANNEL,
                "endpoint_url": "https://todoke.example.lg.jp/liff/23235/campaigns/1",
            },
        )
        response.raise_for_status()
    await node.add_tenant(line_api_base_url=live_sandbox.url)
    await node.add_tenant(code="23236", line_api_base_url=live_sandbox.url)
    async with unit_of_work(node.sessions) as session:
        for code in (TENANT, "23236"):
            await set_liff(
                session,
                code=code,
                liff_id=LIFF_ID,
                login_channel_id=LOGIN_CHANNEL,
                public_url="https://todoke.example.lg.jp",
                now=NOW,
            )
    rows = [
        [f"R00{i}", "single_parent", "", "東町", "", uid(i) if i in (1, 2) else ""]
        for i in range(1, 7)
    ]
    await node.import_csv(write_csv(tmp_path / "residents.csv", rows))
    campaign_id = await add_campaign(node)
    other = await add_campaign(node, tenant="23236", notice_id="01JCAMPAIGN000000000000002")
    yield LiffSetup(node, live_sandbox.url, campaign_id, other)
