"""A relay rule with ``campaign: true`` turns a notice with an application window into a
campaign (phases scheduled, nothing sent on arrival); without it, or without a window, the
notice is sent once as before. REAL hub, node API and LINE sandbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from municipal_node.campaigns.models import Campaign, CampaignPhase
from municipal_node.scheduler.models import ScheduledTask
from tests.municipal_node.dispatch.conftest import Rig
from tests.municipal_node.dispatch.successors import successor
from tests.municipal_node.dispatch.test_dispatch import population
from tests.municipal_node.helpers import NOW, make_notice


def _iso(days: int) -> str:
    return (NOW + timedelta(days=days)).isoformat().replace("+00:00", "Z")


WINDOW = {"url": "https://www.example.lg.jp/junbi", "opens": _iso(14), "closes": _iso(45)}


async def _rule(rig: Rig, **fields: object) -> None:
    response = await rig.api("POST", "/relay-rules", json={"name": "手当", **fields})
    assert response.status_code == 201, response.text


async def test_a_campaign_rule_schedules_phases_instead_of_sending_at_once(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await _rule(rig, campaign=True)
    notice = make_notice(action=WINDOW)
    await rig.relay(notice)
    report = await rig.dispatcher().run_once()
    assert report.sent_batches == 0
    assert [len(await rig.inbox(i)) for i in range(10)] == [0] * 10
    [job] = await rig.jobs()
    assert job.state == "skipped" and "キャンペーン" in (job.reason or "")
    async with rig.node.sessions() as session:
        [campaign] = (await session.scalars(select(Campaign))).all()
        phases = (await session.scalars(select(CampaignPhase))).all()
        tasks = (await session.scalars(select(ScheduledTask))).all()
    assert campaign.notice_id == notice["notice_id"]
    assert campaign.spec == {"household": ["single_parent"]}
    assert sorted(p.phase for p in phases) == ["open", "preview", "reminder"]
    assert all(p.state == "scheduled" for p in phases)
    assert {t.key for t in tasks} >= {f"campaign:{campaign.id}:{p.phase}" for p in phases}
    [status] = await rig.status()
    assert status["state"] == "skipped" and "キャンペーン" in status["reason"]


async def test_without_the_campaign_flag_or_a_window_the_notice_is_sent_once(
    rig: Rig, tmp_path: Path
) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await _rule(rig, campaign=False)
    await rig.relay(make_notice(action=WINDOW))
    await rig.dispatcher().run_once()
    assert [len(await rig.inbox(i)) for i in range(10)] == [1] * 10
    async with rig.node.sessions() as session:
        assert (await session.scalars(select(Campaign))).all() == []


async def _campaign_state(rig: Rig) -> tuple[str, list[str], list[str]]:
    async with rig.node.sessions() as session:
        [campaign] = (await session.scalars(select(Campaign))).all()
        phases = (await session.scalars(select(CampaignPhase).order_by(CampaignPhase.id))).all()
        tasks = (await session.scalars(select(ScheduledTask).order_by(ScheduledTask.id))).all()
    return campaign.state, [p.state for p in phases], [t.state for t in tasks]


async def test_a_hub_cancel_of_the_notice_stops_its_campaign(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await _rule(rig, campaign=True)
    notice = make_notice(action=WINDOW)
    await rig.relay(notice)
    await rig.dispatcher().run_once()
    await rig.relay(successor(notice, "Cancel"))
    await rig.dispatcher().run_once()
    state, phases, tasks = await _campaign_state(rig)
    assert state == "cancelled"
    assert set(phases) == {"cancelled"}
    assert set(tasks) == {"cancelled"}


async def test_staff_cancelling_the_notice_stops_its_campaign(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(35, follow=list(range(25)))
    await _rule(rig, campaign=True)
    notice = make_notice(action=WINDOW)
    await rig.relay(notice)
    await rig.dispatcher().run_once()
    response = await rig.api(
        "POST", f"/notices/gov-cfa/{notice['notice_id']}/cancel", json={"reason": "誤配信のため"}
    )
    assert response.status_code == 200, response.text
    state, phases, tasks = await _campaign_state(rig)
    assert state == "cancelled"
    assert set(phases) == {"cancelled"}
    assert set(tasks) == {"cancelled"}
