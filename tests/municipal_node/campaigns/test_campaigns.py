"""A campaign from a relayed notice with an application window, through the staff API: three
phases at the computed times (JST shown to staff), each sent once by the scheduler when due —
予告, 受付開始 with a button to the node's click counter, and a reminder that skips everyone who
applied — to the notice's segment through the REAL LINE sandbox. A node that was down sends a
late phase inside the catch-up window and reports it missed outside it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from municipal_node.campaigns.links import click_url
from municipal_node.clock import FixedClock
from municipal_node.reports.service import campaign_of_phase_jobs
from tests.municipal_node.campaigns.conftest import (
    CLOSES,
    OPENS,
    PUBLIC_URL,
    apply,
    audit_actions,
    scheduler_of,
    set_public_url,
    texts_of,
    window_notice,
)
from tests.municipal_node.dispatch.conftest import Rig
from tests.municipal_node.dispatch.successors import successor
from tests.municipal_node.dispatch.test_dispatch import population
from tests.municipal_node.helpers import TENANT


async def _ready(rig: Rig, tmp_path: Path) -> dict[str, Any]:
    await rig.node.import_csv(population(tmp_path))  # users 0..9 single parents
    await rig.befriend(15, follow=list(range(15)))
    await set_public_url(rig)
    notice = window_notice()
    await rig.relay(notice)
    await rig.dispatcher().run_once()  # the notice itself
    return notice


async def _create(rig: Rig, notice: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = await rig.api(
        "POST", "/campaigns",
        json={"publisher": "gov-cfa", "notice_id": notice["notice_id"], **extra},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _phases(campaign: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {phase["phase"]: phase for phase in campaign["phases"]}


async def test_every_phase_is_sent_once_when_due_and_the_reminder_skips_applicants(
    rig: Rig, tmp_path: Path
) -> None:
    notice = await _ready(rig, tmp_path)
    campaign = await _create(rig, notice)
    phases = _phases(campaign)
    assert campaign["state"] == "active"
    assert campaign["title"] == notice["content"]["ja"]["headline"]
    assert [p["phase"] for p in campaign["phases"]] == ["preview", "open", "reminder"]
    assert phases["preview"]["send_at_jst"] == "2026-04-04 09:00 JST（土）"
    assert phases["open"]["send_at_jst"] == "2026-04-11 09:00 JST（土）"
    assert phases["reminder"]["send_at_jst"] == "2026-05-04 09:00 JST（月）"
    assert {p["state"] for p in phases.values()} == {"scheduled"}
    assert [p["label"] for p in campaign["phases"]] == ["予告", "受付開始", "締切前リマインド"]
    campaign_id = campaign["id"]

    scheduler = scheduler_of(rig)
    assert await scheduler.run_once(TENANT) == 0  # nothing due yet
    clock = rig.node.clock

    # 予告: to the segment (users 0..9), the notice's own link
    clock.set(OPENS - timedelta(days=7))
    assert await scheduler.run_once(TENANT) == 1
    await rig.dispatcher().run_once()
    preview_text = (await texts_of(rig, 0))[-1]
    assert "（予告）" in preview_text and "2026年4月11日（土）9:00から" in preview_text
    for index in range(10, 15):  # outside the segment
        assert not any("（予告）" in t for t in await texts_of(rig, index))

    await apply(rig, campaign_id, user_index=3)  # online
    await apply(rig, campaign_id, resident_id="R004")  # at the counter (linked to user 4)

    # 受付開始: a button to the click counter
    clock.set(OPENS)
    assert await scheduler.run_once(TENANT) == 1
    await rig.dispatcher().run_once()
    [*_, opened] = await rig.inbox(5)
    flex = opened["messages"][1]
    button = flex["contents"]["footer"]["contents"][0]["action"]
    assert button["uri"] == click_url(PUBLIC_URL, TENANT, campaign_id, "open")
    assert button["uri"] == f"{PUBLIC_URL}/c/{TENANT}/{campaign_id}/open"
    assert flex["altText"].startswith("【弥富市】受付開始:")
    assert "申請の受付が始まりました" in opened["messages"][0]["text"]

    # リマインド: not to those who applied
    clock.set(CLOSES - timedelta(days=7))
    assert await scheduler.run_once(TENANT) == 1
    assert await scheduler.run_once(TENANT) == 0
    await rig.dispatcher().run_once()
    for index in range(10):
        reminded = [t for t in await texts_of(rig, index) if "締切が近づいています" in t]
        assert len(reminded) == (0 if index in (3, 4) else 1), index

    response = await rig.api("GET", f"/campaigns/{campaign_id}")
    assert response.status_code == 200
    phases = _phases(response.json())
    assert {p["state"] for p in phases.values()} == {"sent"}
    jobs = {job.phase: job for job in await rig.jobs()}
    assert {phase: phases[phase]["job_id"] for phase in phases} == {
        phase: jobs[phase].id for phase in ("preview", "open", "reminder")
    }
    assert jobs["reminder"].exclude_campaign_id == campaign_id
    assert jobs["open"].exclude_campaign_id is None
    actions = await audit_actions(rig)
    assert actions.count("campaign.phase_send") == 3
    assert "campaign.create" in actions


async def test_a_node_down_across_a_phase_sends_it_late_inside_the_window_else_reports_it(
    rig: Rig, tmp_path: Path
) -> None:
    notice = await _ready(rig, tmp_path)
    campaign = await _create(rig, notice)
    clock = rig.node.clock
    scheduler = scheduler_of(rig, catch_up_hours=24)
    # down from before the preview (04-04 09:00 JST) until 22:00 JST: late, but inside quiet
    # hours — put off to their end, not sent at night
    clock.set(OPENS - timedelta(days=7) + timedelta(hours=13))
    assert await scheduler.run_once(TENANT) == 1
    assert scheduler.last_round[TENANT].deferred == 1
    await rig.dispatcher().run_once()
    assert not any("（予告）" in t for t in await texts_of(rig, 0))
    assert await scheduler.run_once(TENANT) == 0
    clock.set(OPENS - timedelta(days=7) + timedelta(hours=23))  # 04-05 08:00 JST
    assert await scheduler.run_once(TENANT) == 1
    await rig.dispatcher().run_once()
    assert sum("（予告）" in t for t in await texts_of(rig, 0)) == 1
    # down again across the opening, back 25 h later: reported missed, not sent
    clock.set(OPENS + timedelta(hours=25))
    assert await scheduler.run_once(TENANT) == 1
    await rig.dispatcher().run_once()
    assert not any("申請の受付が始まりました" in t for t in await texts_of(rig, 0))
    response = await rig.api("GET", f"/campaigns/{campaign['id']}")
    phases = _phases(response.json())
    assert phases["preview"]["state"] == "sent"
    assert phases["open"]["state"] == "missed"
    assert "ノードが停止していた" in phases["open"]["reason"]
    assert phases["open"]["job_id"] is None
    assert phases["reminder"]["state"] == "scheduled"
    assert "scheduler.task_missed" in await audit_actions(rig)
    assert [job.phase for job in await rig.jobs()] == ["notice", "preview"]
    # the window closes: the campaign is finished
    clock.set(CLOSES)
    assert await scheduler.run_once(TENANT) == 2  # the reminder (7 days late: missed), close
    finished = (await rig.api("GET", f"/campaigns/{campaign['id']}")).json()
    assert finished["state"] == "finished"


async def test_phases_of_a_campaign_under_an_approval_rule_wait_for_approval(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(10, follow=list(range(10)))
    rule = await rig.api("POST", "/relay-rules", json={"name": "承認して送る", "mode": "approval"})
    assert rule.status_code == 201, rule.text
    notice = window_notice()
    await rig.relay(notice)
    await rig.dispatcher().run_once()
    campaign = await _create(rig, notice)
    assert campaign["rule_id"] == rule.json()["id"]
    rig.node.clock.set(OPENS - timedelta(days=7))
    assert await scheduler_of(rig).run_once(TENANT) == 1
    await rig.dispatcher().run_once()
    jobs = {job.phase: job for job in await rig.jobs()}
    assert (jobs["preview"].approval, jobs["preview"].state) == ("approval", "held")
    assert jobs["preview"].rule_id == rule.json()["id"]
    assert not any("（予告）" in t for t in await texts_of(rig, 0))  # nothing before approval


async def test_an_update_extending_the_deadline_continues_the_campaign_and_its_applicants(
    rig: Rig, tmp_path: Path, hub_clock: FixedClock
) -> None:
    """The ministry extends the deadline by an Update after the form opened: the campaign (its
    id, buttons, applications) moves onto the Update, the preview and opening already sent stay
    sent, the reminder moves to 7 days before the new closing with the new date — and it still
    skips everyone who applied under the first revision."""
    notice = await _ready(rig, tmp_path)
    campaign = await _create(rig, notice)
    campaign_id = campaign["id"]
    scheduler, clock = scheduler_of(rig), rig.node.clock
    for moment in (OPENS - timedelta(days=7), OPENS):
        clock.set(moment)
        assert await scheduler.run_once(TENANT) == 1
        await rig.dispatcher().run_once()
    await apply(rig, campaign_id, user_index=3)
    await apply(rig, campaign_id, resident_id="R004")
    # staff's own reminder wording (a template): kept across the Update, with the new date
    worded = await rig.api(
        "PATCH", f"/campaigns/{campaign_id}/phases/reminder",
        json={"text": "【{自治体名}】{見出し}\n締切は {締切} です。お早めにどうぞ。\n{受付URL}"},
    )  # fmt: skip
    assert worded.status_code == 200, worded.text
    alt = await rig.api(  # changing only the altText keeps the text
        "PATCH", f"/campaigns/{campaign_id}/phases/reminder",
        json={"alt_text": "【{自治体名}】まもなく締切: {見出し}"},
    )  # fmt: skip
    assert alt.status_code == 200, alt.text

    new_closes = CLOSES + timedelta(days=14)  # 2026-05-25 09:00 JST
    update = successor(
        notice,
        "Update",
        action={**notice["action"], "closes": new_closes.isoformat().replace("+00:00", "Z")},
        content={"ja": {"headline": "現況届の提出期限を延長しました", "body": "5月25日まで"}},
        expires=(new_closes + timedelta(days=30)).isoformat().replace("+00:00", "Z"),
    )
    clock.set(OPENS + timedelta(days=1))
    hub_clock.set(OPENS + timedelta(days=1))
    await rig.relay(update)
    await rig.dispatcher().run_once()

    continued = (await rig.api("GET", f"/campaigns/{campaign_id}")).json()
    assert (continued["state"], continued["notice_id"]) == ("active", update["notice_id"])
    assert continued["closes_at_jst"] == "2026-05-25 09:00 JST（月）"
    phases = _phases(continued)
    assert (phases["preview"]["state"], phases["open"]["state"]) == ("sent", "sent")
    assert phases["reminder"]["state"] == "scheduled"
    assert phases["reminder"]["send_at_jst"] == "2026-05-18 09:00 JST（月）"
    listed = (await rig.api("GET", "/campaigns")).json()
    assert [c["id"] for c in listed] == [campaign_id]  # no second campaign for the Update
    jobs = {(job.notice_id, job.phase): job for job in await rig.jobs()}
    assert jobs[(update["notice_id"], "notice")].state == "skipped"  # the campaign sends it
    # the phases sent under revision 1 still count as this campaign's (clicks, applications)
    async with rig.node.sessions() as session:
        mapped = await campaign_of_phase_jobs(session, TENANT, list(jobs.values()))
    sent_before = [jobs[(notice["notice_id"], phase)].id for phase in ("preview", "open")]
    assert [mapped[job_id] for job_id in sent_before] == [campaign_id, campaign_id]

    clock.set(CLOSES - timedelta(days=7))  # the old reminder time: nothing
    assert await scheduler.run_once(TENANT) == 0
    clock.set(new_closes - timedelta(days=7))
    assert await scheduler.run_once(TENANT) == 1
    await rig.dispatcher().run_once()
    for index in range(10):
        reminded = [t for t in await texts_of(rig, index) if "お早めにどうぞ" in t]
        assert len(reminded) == (0 if index in (3, 4) else 1), index
        if reminded:  # staff's wording, with the new date
            assert "締切は 2026年5月25日" in reminded[0]
    [*_, last] = await rig.inbox(0)
    assert last["messages"][1]["altText"].startswith("【弥富市】まもなく締切:")
    assert "campaign.continue" in await audit_actions(rig)


async def test_an_update_that_closes_the_window_early_stops_the_campaign(
    rig: Rig, tmp_path: Path, hub_clock: FixedClock
) -> None:
    """An Update whose window has already closed (the deadline brought forward to the past)
    has nothing to continue: the campaign stops, its reminder is never sent."""
    notice = await _ready(rig, tmp_path)
    campaign_id = (await _create(rig, notice))["id"]
    moment = OPENS + timedelta(days=2)
    update = successor(
        notice,
        "Update",
        action={**notice["action"], "closes": (OPENS + timedelta(days=1)).isoformat()},
    )
    rig.node.clock.set(moment)
    hub_clock.set(moment)
    await rig.relay(update)
    stopped = (await rig.api("GET", f"/campaigns/{campaign_id}")).json()
    assert (stopped["state"], stopped["notice_id"]) == ("cancelled", notice["notice_id"])
    assert _phases(stopped)["reminder"]["state"] == "cancelled"
    rig.node.clock.set(CLOSES - timedelta(days=7))
    assert await scheduler_of(rig).run_once(TENANT) == 0
