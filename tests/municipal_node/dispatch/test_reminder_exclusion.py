"""A campaign reminder (a job with ``exclude_campaign_id``) never reaches anyone who applied —
online (their LINE user id) or at the counter (their linked resident record) — whether they
applied before the job was planned or between planning and the request; everyone else in the
segment who is still a friend receives it once. REAL hub, node webhook and LINE sandbox."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path

from municipal_node.applications.models import Application, ApplicationChannel
from municipal_node.campaigns.models import Campaign
from municipal_node.dispatch.jobs import insert_send_job
from municipal_node.dispatch.keys import aggregation_unit_for
from tests.municipal_node.dispatch.conftest import Rig, user
from tests.municipal_node.dispatch.test_dispatch import population
from tests.municipal_node.helpers import TENANT, make_notice

REMINDER_TEXT = "【締切前のお知らせ】申請はお済みですか"


async def _campaign(rig: Rig, notice: dict[str, object]) -> int:
    now = rig.node.clock.now()
    async with rig.node.sessions() as session:
        campaign = Campaign(
            tenant_code=TENANT, publisher="gov-cfa", notice_id=str(notice["notice_id"]),
            title="児童扶養手当 現況届", opens_at=now - timedelta(days=7),
            closes_at=now + timedelta(days=7), rule_id=None,
            spec={"household": ["single_parent"]}, quiet_start="21:00", quiet_end="08:00",
            skip_holidays=False, baseline_rate=None, form=[], state="active",
            created_by="test", created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(campaign)
        await session.commit()
        return campaign.id


async def _apply(rig: Rig, campaign_id: int, *, user_index: int | None = None,
                 resident_id: str | None = None) -> None:  # fmt: skip
    now = rig.node.clock.now()
    async with rig.node.sessions() as session:
        session.add(
            Application(
                tenant_code=TENANT, campaign_id=campaign_id,
                line_user_id=None if user_index is None else user(user_index),
                resident_id=resident_id,
                channel=ApplicationChannel.ONLINE if resident_id is None
                else ApplicationChannel.COUNTER,
                applied_at=now, receipt_no=secrets.token_hex(6), answers_sealed=None,
                created_at=now,
            )
        )  # fmt: skip
        await session.commit()


async def _reminder_recipients(rig: Rig, notice_id: str) -> list[str]:
    unit = aggregation_unit_for(TENANT, "gov-cfa", notice_id, "reminder")
    response = await rig.http.get(f"{rig.sandbox.url}/sandbox/exchanges")
    recipients: list[str] = []
    for exchange in response.json():
        if exchange["path"] != "/v2/bot/message/multicast":
            continue
        body = json.loads(str(exchange["request_body"]))
        if body.get("customAggregationUnits") == [unit] and exchange["status"] == 200:
            recipients += body["to"]
    return recipients


async def test_the_reminder_skips_everyone_who_applied_before_it_was_sent(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))  # users 0..9 single parents, R000..R009
    await rig.befriend(35, follow=list(range(25)))
    notice = make_notice()
    await rig.relay(notice)
    await rig.dispatcher().run_once()  # the notice itself reaches users 0..9
    campaign_id = await _campaign(rig, notice)
    await _apply(rig, campaign_id, user_index=0)  # online, before planning
    await _apply(rig, campaign_id, resident_id="R001")  # counter, before planning
    now = rig.node.clock.now()
    async with rig.node.sessions() as session:
        job_id = await insert_send_job(
            session, tenant_code=TENANT, publisher="gov-cfa", notice_id=notice["notice_id"],
            phase="reminder", spec={"household": ["single_parent"]},
            messages=[{"type": "text", "text": REMINDER_TEXT}],
            send_until=now + timedelta(days=7), now=now, exclude_campaign_id=campaign_id,
        )  # fmt: skip
        await session.commit()
    assert job_id is not None
    await rig.dispatcher().plan_round()
    [_, reminder] = await rig.jobs()
    assert reminder.targeted == 8  # users 0 and 1 were never planned
    await _apply(rig, campaign_id, user_index=2)  # online, after planning
    await _apply(rig, campaign_id, resident_id="R003")  # counter, after planning
    await rig.unfollow([4])  # no longer a friend
    await rig.dispatcher().run_once()
    got = await _reminder_recipients(rig, notice["notice_id"])
    assert sorted(got) == sorted(user(i) for i in range(5, 10))
    for index in range(5, 10):
        texts = [m["messages"][0].get("text") for m in await rig.inbox(index)]
        assert texts.count(REMINDER_TEXT) == 1
    for index in range(5):
        texts = [m["messages"][0].get("text") for m in await rig.inbox(index)]
        assert REMINDER_TEXT not in texts
