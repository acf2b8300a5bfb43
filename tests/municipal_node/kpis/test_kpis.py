"""Campaign KPIs through the API and the CLI's table, from a campaign sent for real (REAL hub,
node webhook and LINE sandbox; opens read from the sandbox's insight with line-bot-sdk)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from municipal_node.campaigns.models import Campaign, CampaignPhase
from municipal_node.db.engine import unit_of_work
from municipal_node.dispatch.jobs import insert_send_job
from municipal_node.dispatch.models import OutboxBatch
from municipal_node.kpis.render import render_kpis
from municipal_node.kpis.schemas import CampaignKpis
from tests.municipal_node.conftest import ENCRYPTION_KEY, Node
from tests.municipal_node.dispatch.conftest import Rig
from tests.municipal_node.helpers import ADMIN_TOKEN, TENANT, new_ulid
from tests.municipal_node.kpis.conftest import (
    BLOCKED,
    EARLY,
    FRIENDS,
    LATE,
    expected_opens,
    open_recipients,
    reminder_recipients,
    send_campaign,
)
from todoke.commands.node import node_group


async def _click(rig: Rig, campaign_id: int, phase: str, times: int) -> None:
    for _ in range(times):
        response = await rig.http.get(f"{rig.node_server.url}/c/{TENANT}/{campaign_id}/{phase}")
        assert response.status_code == 302


async def test_kpis_per_phase_and_overall(rig: Rig, tmp_path: Path) -> None:
    sent = await send_campaign(rig, tmp_path)
    await _click(rig, sent.campaign_id, "open", 12)
    await _click(rig, sent.campaign_id, "reminder", 3)

    response = await rig.api("GET", f"/campaigns/{sent.campaign_id}/kpis")
    assert response.status_code == 200, response.text
    kpis = CampaignKpis.model_validate(response.json())

    by_phase = {p.phase: p for p in kpis.phases}
    assert list(by_phase) == ["open", "reminder"]
    opened = by_phase["open"]
    assert (opened.targeted, opened.sent, opened.failed, opened.blocked) == (
        FRIENDS,
        FRIENDS - len(BLOCKED),
        0,
        len(BLOCKED),
    )
    assert opened.opened == expected_opens(sent.unit("open"), open_recipients())
    assert opened.opened_note == "ok" and opened.opened is not None
    assert (opened.clicked, opened.applied) == (12, len(EARLY))
    reminder = by_phase["reminder"]
    reminded = reminder_recipients()
    assert (reminder.targeted, reminder.sent, reminder.blocked) == (len(reminded), len(reminded), 0)
    reminder_opens = expected_opens(sent.unit("reminder"), reminded)
    assert reminder.opened == reminder_opens
    assert reminder.opened_note == ("ok" if reminder_opens is not None else "below_threshold")
    assert (reminder.clicked, reminder.applied) == (3, len(LATE))

    apps = kpis.applications
    assert (apps.total, apps.in_window) == (len(EARLY) + len(LATE), len(EARLY) + len(LATE))
    assert (apps.before_reminder, apps.after_reminder) == (len(EARLY), len(LATE))
    assert apps.segment == FRIENDS
    assert apps.in_time_rate == pytest.approx(35 / 80)
    assert apps.baseline_rate == 0.2
    assert apps.vs_baseline_points == pytest.approx(23.75)

    table = render_kpis(kpis)
    assert "受付開始" in table and "締切前リマインド" in table
    assert "+23.8 ポイント" in table or "+23.7 ポイント" in table
    for marker in ("U", "R0"):  # no LINE user id, no resident id in what staff see
        assert not any(word.startswith(marker) and len(word) > 10 for word in table.split())


async def test_opens_below_twenty_are_not_guessed(rig: Rig, tmp_path: Path) -> None:
    sent = await send_campaign(rig, tmp_path)
    response = await rig.http.put(
        f"{rig.sandbox.url}/sandbox/channels/yatomi/insight",
        json={"open_rate": 0.1, "click_rate": 0.0},
    )
    assert response.status_code == 200
    kpis = (await rig.api("GET", f"/campaigns/{sent.campaign_id}/kpis")).json()
    reminder = next(p for p in kpis["phases"] if p["phase"] == "reminder")
    assert reminder["opened"] is None and reminder["opened_note"] == "below_threshold"


async def test_unknown_campaign_and_roles(rig: Rig) -> None:
    await rig.node.add_tenant(code="23100", hub_url=rig.hub.url)
    missing = await rig.api("GET", "/campaigns/999999/kpis")
    assert missing.status_code == 404
    assert missing.json()["detail"]["code"] == "CAMPAIGN_NOT_FOUND"
    assert (await rig.api("GET", "/campaigns/abc/kpis")).status_code == 422
    assert (await rig.api("GET", "/campaigns/1/kpis", token="wrong")).status_code == 401


async def test_the_cli_prints_the_table_and_the_json(rig: Rig, tmp_path: Path) -> None:
    sent = await send_campaign(rig, tmp_path)
    env = {
        "TODOKE_NODE_DATABASE_URL": rig.node.settings.database_url,
        "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY,
    }
    args = ["kpis", "--tenant", TENANT, "--campaign", str(sent.campaign_id)]
    table: Result = await asyncio.to_thread(CliRunner().invoke, node_group, args, env=env)
    assert table.exit_code == 0, table.output
    assert "キャンペーン" in table.output and "受付開始" in table.output
    assert "対象者 80 のうち期間内申請 43.8%" in table.output
    as_json: Result = await asyncio.to_thread(
        CliRunner().invoke, node_group, [*args, "--json"], env=env
    )
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.stdout)
    assert [p["phase"] for p in body["phases"]] == ["open", "reminder"]
    assert body["phases"][0]["opened"] == expected_opens(sent.unit("open"), open_recipients())
    missing: Result = await asyncio.to_thread(
        CliRunner().invoke, node_group, ["kpis", "--tenant", TENANT, "--campaign", "999"], env=env
    )
    assert missing.exit_code == 1 and "キャンペーン 999 が見つかりません" in missing.output


async def test_an_unreachable_line_leaves_opens_unknown_not_an_error(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant(line_api_base_url="http://127.0.0.1:9")  # nothing listens
    now = node.clock.now()
    async with unit_of_work(node.sessions) as session:
        campaign = Campaign(
            tenant_code=TENANT, publisher="gov-cfa", notice_id=new_ulid(), title="現況届",
            opens_at=now, closes_at=now + timedelta(days=14), rule_id=None, spec={},
            quiet_start="21:00", quiet_end="08:00", skip_holidays=False, baseline_rate=None,
            form=[], state="active", created_by="test", created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(campaign)
        await session.flush()
        job_id = await insert_send_job(
            session, tenant_code=TENANT, publisher="gov-cfa", notice_id=campaign.notice_id,
            phase="open", spec={}, messages=[{"type": "text", "text": "受付開始"}],
            send_until=now + timedelta(days=14), now=now,
        )  # fmt: skip
        assert job_id is not None
        session.add(
            OutboxBatch(
                job_id=job_id, tenant_code=TENANT, publisher="gov-cfa",
                notice_id=campaign.notice_id, batch_no=0, user_ids=[], recipient_count=30,
                retry_key="00000000-0000-0000-0000-000000000000", state="sent", attempts=1,
                household_counts={}, sent_count=28, created_at=now, updated_at=now,
            )
        )  # fmt: skip
        session.add(
            CampaignPhase(
                campaign_id=campaign.id, tenant_code=TENANT, phase="open", enabled=True,
                send_at=now, messages=[], state="sent", job_id=job_id, updated_at=now,
            )
        )  # fmt: skip
        campaign_id = campaign.id
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    response = await node_http.get(
        f"/api/tenants/{TENANT}/campaigns/{campaign_id}/kpis", headers=headers
    )
    assert response.status_code == 200, response.text
    [phase] = response.json()["phases"]
    assert (phase["sent"], phase["blocked"]) == (28, 2)
    assert phase["opened"] is None and phase["opened_note"] == "unavailable"
