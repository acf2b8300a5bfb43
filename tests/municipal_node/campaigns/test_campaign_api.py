"""The campaign API refuses what it cannot do with a specific, bilingual error (never a 500,
nothing changed): unknown or windowless notices, a second campaign, bad times and wording, a
phase already sent; staff changes move a phase (out of quiet hours), switch it off and on, and
cancel the campaign so that nothing more is sent. A hub Cancel of the notice cancels it too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from municipal_node.campaigns import service
from municipal_node.db.engine import unit_of_work
from tests.municipal_node.campaigns.conftest import (
    CLOSES,
    OPENS,
    audit_actions,
    scheduler_of,
    set_public_url,
    texts_of,
    window_notice,
)
from tests.municipal_node.dispatch.conftest import Rig
from tests.municipal_node.dispatch.test_dispatch import population
from tests.municipal_node.helpers import NOW, TENANT, make_notice


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    detail: dict[str, Any] = response.json()["detail"]
    assert detail["code"] == code, detail
    assert " / " in detail["message"], detail  # Japanese / English
    return detail


async def _relayed(rig: Rig, notice: dict[str, Any]) -> dict[str, Any]:
    await rig.relay(notice)
    return notice


async def _campaign(rig: Rig, notice: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = await rig.api(
        "POST", "/campaigns",
        json={"publisher": "gov-cfa", "notice_id": notice["notice_id"], **extra},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_creation_is_refused_with_specific_errors(rig: Rig) -> None:
    windowless = await _relayed(rig, make_notice())
    notice = await _relayed(rig, window_notice())
    body = {"publisher": "gov-cfa", "notice_id": notice["notice_id"]}

    detail = _error(await rig.api("POST", "/campaigns", json={**body, "notice_id": "x"}), 422,
                    "INVALID_INPUT")  # fmt: skip
    assert detail["errors"][0]["field"] == "notice_id"
    detail = _error(
        await rig.api("POST", "/campaigns", json={**body, "quiet_start": "25:00"}), 422,
        "INVALID_INPUT",
    )  # fmt: skip
    assert detail["errors"][0]["field"] == "quiet_start"
    assert "HH:MM" in detail["errors"][0]["message"]
    _error(await rig.api("POST", "/campaigns", json={**body, "baseline_rate": 2}), 422,
           "INVALID_INPUT")  # fmt: skip
    _error(await rig.api("POST", "/campaigns", json={**body, "spam": 1}), 422, "INVALID_INPUT")
    _error(
        await rig.api("POST", "/campaigns", json={**body, "notice_id": "01J00000000000000000000000"}),
        404, "NOTICE_NOT_FOUND",
    )  # fmt: skip
    _error(
        await rig.api("POST", "/campaigns", json={**body, "notice_id": windowless["notice_id"]}),
        422, "NO_APPLICATION_WINDOW",
    )  # fmt: skip
    rig.node.clock.set(CLOSES)
    _error(await rig.api("POST", "/campaigns", json=body), 422, "WINDOW_CLOSED")
    rig.node.clock.set(NOW)
    created = await _campaign(rig, notice, skip_holidays=True, title="現況届 2026")
    assert created["title"] == "現況届 2026" and created["skip_holidays"] is True
    # 2026-04-04 (土) → the next business day; 2026-04-11 (土) → 04-13 (月)
    phases = {p["phase"]: p for p in created["phases"]}
    assert phases["preview"]["send_at_jst"] == "2026-04-06 09:00 JST（月）"
    assert phases["open"]["send_at_jst"] == "2026-04-13 09:00 JST（月）"
    _error(await rig.api("POST", "/campaigns", json=body), 409, "CAMPAIGN_EXISTS")
    listed = (await rig.api("GET", "/campaigns")).json()
    assert [c["id"] for c in listed] == [created["id"]]
    _error(await rig.api("GET", "/campaigns/987654"), 404, "CAMPAIGN_NOT_FOUND")


async def test_phase_changes_are_checked_and_take_effect(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(10, follow=list(range(10)))
    await set_public_url(rig)
    notice = await _relayed(rig, window_notice())
    campaign = await _campaign(rig, notice)
    path = f"/campaigns/{campaign['id']}/phases"

    async def patch(phase: str, body: dict[str, Any]) -> Any:
        return await rig.api("PATCH", f"{path}/{phase}", json=body)

    _error(await patch("open", {}), 422, "NOTHING_TO_CHANGE")
    _error(await patch("later", {"enabled": False}), 422, "INVALID_INPUT")
    detail = _error(await patch("open", {"send_at": "2026-04-12T10:00:00"}), 422, "INVALID_INPUT")
    assert detail["errors"][0]["field"] == "send_at"  # no time zone
    _error(await patch("open", {"send_at": "2026-03-01T10:00:00+09:00"}), 422, "SEND_AT_PAST")
    _error(await patch("reminder", {"send_at": "2026-05-12T10:00:00+09:00"}), 422,
           "SEND_AT_TOO_LATE")  # fmt: skip
    _error(await patch("preview", {"send_at": "2026-04-11T10:00:00+09:00"}), 422,
           "SEND_AT_TOO_LATE")  # after opening  # fmt: skip
    detail = _error(
        await patch("open", {"text": "{見出し}\nお問い合わせ: kosodate@example.jp"}), 422,
        "TEMPLATE_REFUSED",
    )  # fmt: skip
    assert detail["errors"][0]["code"] == "PERSONAL_DATA_EMAIL"
    _error(await patch("open", {"text": "{住所}さんへ"}), 422, "TEMPLATE_REFUSED")
    _error(await rig.api("PATCH", "/campaigns/987654/phases/open", json={"enabled": False}),
           404, "CAMPAIGN_NOT_FOUND")  # fmt: skip

    # a time inside quiet hours moves to their end, shown in JST
    moved = await patch("open", {"send_at": "2026-04-12T23:30:00+09:00"})
    assert moved.status_code == 200, moved.text
    phases = {p["phase"]: p for p in moved.json()["phases"]}
    assert phases["open"]["send_at_jst"] == "2026-04-13 08:00 JST（月）"
    # new wording for the reminder; the preview switched off
    worded = await patch("reminder", {"text": "【{自治体名}】{見出し}\nまだの方は{締切}までに。"})
    assert worded.status_code == 200, worded.text
    off = await patch("preview", {"enabled": False})
    phases = {p["phase"]: p for p in off.json()["phases"]}
    assert (phases["preview"]["state"], phases["preview"]["enabled"]) == ("off", False)
    assert "職員" in phases["preview"]["reason"]

    scheduler = scheduler_of(rig)
    rig.node.clock.set(OPENS)  # the preview's and the old opening time: nothing
    assert await scheduler.run_once(TENANT) == 0
    rig.node.clock.set(OPENS + timedelta(days=2))  # 04-13 08:00 JST
    assert await scheduler.run_once(TENANT) == 1
    rig.node.clock.set(CLOSES - timedelta(days=7))
    assert await scheduler.run_once(TENANT) == 1
    await rig.dispatcher().run_once()
    texts = await texts_of(rig, 0)
    assert not any("（予告）" in t for t in texts)
    assert any("まだの方は2026年5月11日（月）9:00までに。" in t for t in texts)
    # a sent phase cannot be changed
    _error(await patch("open", {"enabled": False}), 409, "PHASE_NOT_EDITABLE")
    assert "campaign.phase_change" in await audit_actions(rig)


async def test_cancel_stops_every_phase_not_sent(rig: Rig, tmp_path: Path) -> None:
    await rig.node.import_csv(population(tmp_path))
    await rig.befriend(10, follow=list(range(10)))
    notice = await _relayed(rig, window_notice())
    campaign = await _campaign(rig, notice)
    cid = campaign["id"]
    scheduler = scheduler_of(rig)
    rig.node.clock.set(OPENS - timedelta(days=7))
    assert await scheduler.run_once(TENANT) == 1  # the preview's job exists

    _error(await rig.api("POST", f"/campaigns/{cid}/cancel", json={"reason": "  "}), 422,
           "REASON_REQUIRED")  # fmt: skip
    _error(await rig.api("PUT", f"/campaigns/{cid}/baseline", json={"rate": 1.5}), 422,
           "INVALID_INPUT")  # fmt: skip
    baseline = await rig.api("PUT", f"/campaigns/{cid}/baseline", json={"rate": 0.42})
    assert baseline.json()["baseline_rate"] == 0.42
    cancelled = await rig.api("POST", f"/campaigns/{cid}/cancel", json={"reason": "制度変更のため"})
    assert cancelled.status_code == 200, cancelled.text
    result = cancelled.json()
    assert (result["state"], result["reason"]) == ("cancelled", "制度変更のため")
    phases = {p["phase"]: p for p in result["phases"]}
    assert phases["preview"]["state"] == "sent"
    assert phases["open"]["state"] == phases["reminder"]["state"] == "cancelled"
    # the preview's job was still going out: cancelled, nothing of it sent
    await rig.dispatcher().run_once()
    jobs = {job.phase: job for job in await rig.jobs()}
    assert jobs["preview"].state == "cancelled"
    assert not any("（予告）" in t for t in await texts_of(rig, 0))
    for moment in (OPENS, CLOSES - timedelta(days=7)):
        rig.node.clock.set(moment)
        assert await scheduler.run_once(TENANT) == 0
    _error(await rig.api("POST", f"/campaigns/{cid}/cancel", json={"reason": "もう一度"}), 409,
           "CAMPAIGN_NOT_ACTIVE")  # fmt: skip
    _error(await rig.api("PATCH", f"/campaigns/{cid}/phases/open", json={"enabled": True}), 409,
           "CAMPAIGN_NOT_ACTIVE")  # fmt: skip
    assert "campaign.cancel" in await audit_actions(rig)


async def test_a_cancelled_notice_cancels_its_campaign(rig: Rig) -> None:
    notice = await _relayed(rig, window_notice())
    campaign = await _campaign(rig, notice)
    now = rig.node.clock.now()
    async with unit_of_work(rig.node.sessions) as session:
        assert await service.cancel_for_notice(
            session, tenant_code=TENANT, publisher="gov-cfa", notice_id=notice["notice_id"],
            now=now, reason="発信者が取り消しました / cancelled by the publisher",
        )  # fmt: skip
        assert not await service.cancel_for_notice(
            session, tenant_code=TENANT, publisher="gov-cfa", notice_id=notice["notice_id"],
            now=now, reason="again",
        )  # fmt: skip
    result = (await rig.api("GET", f"/campaigns/{campaign['id']}")).json()
    assert result["state"] == "cancelled"
    assert {p["state"] for p in result["phases"]} == {"cancelled"}
    scheduler = scheduler_of(rig)
    for moment in (OPENS - timedelta(days=7), OPENS, CLOSES - timedelta(days=7)):
        rig.node.clock.set(moment)
        assert await scheduler.run_once(TENANT) == 0


async def test_viewers_read_campaigns_and_only_editors_change_them(rig: Rig) -> None:
    notice = await _relayed(rig, window_notice())
    campaign = await _campaign(rig, notice)
    tokens: dict[str, str] = {}
    for role in ("viewer", "editor"):
        created = await rig.api(
            "POST", "/staff",
            json={"username": f"{role}-1", "display_name": role, "password": "campaign pass 1",
                  "role": role},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        login = await rig.http.post(
            f"{rig.node_server.url}/api/login",
            json={"username": f"{role}-1", "password": "campaign pass 1"},
        )
        tokens[role] = login.json()["token"]
    path = f"/campaigns/{campaign['id']}"
    assert (await rig.api("GET", path, token=tokens["viewer"])).status_code == 200
    assert (await rig.api("GET", "/campaigns", token=tokens["viewer"])).status_code == 200
    for method, sub, body in (
        ("PATCH", "/phases/open", {"enabled": False}),
        ("POST", "/cancel", {"reason": "閲覧者"}),
        ("PUT", "/baseline", {"rate": 0.3}),
    ):
        _error(await rig.api(method, path + sub, json=body, token=tokens["viewer"]), 403,
               "FORBIDDEN")  # fmt: skip
    _error(
        await rig.api("POST", "/campaigns", token=tokens["viewer"],
                      json={"publisher": "gov-cfa", "notice_id": notice["notice_id"]}),
        403, "FORBIDDEN",
    )  # fmt: skip
    changed = await rig.api("PATCH", path + "/phases/open", json={"enabled": False},
                            token=tokens["editor"])  # fmt: skip
    assert changed.status_code == 200, changed.text
