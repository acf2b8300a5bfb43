"""Recurring notices through the HTTP API: saved with their next occurrence scheduled, dates
previewed in JST with holidays applied, switched off, and clear refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.scheduler.models import ScheduledTask
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.staff.client import OPERATOR, staff_headers

BASE = f"/api/tenants/{TENANT}"
OTHER = "23100"
JIDOU_FUYOU = "FREQ=MONTHLY;BYMONTH=1,3,5,7,9,11;BYMONTHDAY=11"


def payment_rule(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "name": "児童扶養手当 支給日のお知らせ",
        "rrule": JIDOU_FUYOU,
        "lead_days": 2,
        "send_time": "09:00",
        "adjust": "previous",
        "spec": {"household": ["single_parent"]},
        "headline": "児童扶養手当の支給日です",
        "body": "次の支給日は{日付}です。口座への振込をご確認ください。",
        "url": "https://www.city.example.lg.jp/jidou-fuyou",
    }
    value.update(changes)
    return value


async def tasks(node: Node) -> list[ScheduledTask]:
    async with node.sessions() as session:
        rows = await session.scalars(
            select(ScheduledTask)
            .where(ScheduledTask.kind == "recurring")
            .order_by(ScheduledTask.id)
        )
        return list(rows)


async def test_a_saved_rule_holds_its_next_occurrence_as_a_task_and_shows_it_in_jst(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    created = await node_http.post(f"{BASE}/recurring-rules", json=payment_rule(), headers=OPERATOR)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["scheduled"]["on"] == "2026-05-11"
    assert body["scheduled"]["send_at"] == "2026-05-09T09:00:00+09:00"
    assert body["scheduled"]["send_at_ja"] == "2026年5月9日（土）9:00"
    assert [o["event_day"] for o in body["upcoming"]] == ["2026-07-10", "2026-09-11", "2026-11-11"]
    assert body["starts_on"] == "2026-04-01"
    pending = await tasks(node)
    assert [(t.key, t.state, t.payload) for t in pending] == [
        (
            f"recurring:{body['id']}:2026-05-11",
            "pending",
            {"rule_id": body["id"], "on": "2026-05-11"},
        )
    ]
    listed = await node_http.get(f"{BASE}/recurring-rules", headers=OPERATOR)
    assert [rule["name"] for rule in listed.json()] == ["児童扶養手当 支給日のお知らせ"]


async def test_the_preview_moves_coming_of_age_day_2027_to_the_friday_before(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    preview = await node_http.post(
        f"{BASE}/recurring-rules/preview",
        json={"rrule": JIDOU_FUYOU, "lead_days": 2, "count": 5},
        headers=OPERATOR,
    )
    assert preview.status_code == 200, preview.text
    january = preview.json()["occurrences"][4]
    assert january == {
        "on": "2027-01-11",
        "event_day": "2027-01-08",
        "event_day_ja": "2027年1月8日（金）",
        "send_at": "2027-01-06T09:00:00+09:00",
        "send_at_ja": "2027年1月6日（水）9:00",
        "moved": True,
    }


async def test_switching_a_rule_off_cancels_its_task_and_on_again_schedules_it(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    rule = (
        await node_http.post(f"{BASE}/recurring-rules", json=payment_rule(), headers=OPERATOR)
    ).json()
    off = await node_http.put(
        f"{BASE}/recurring-rules/{rule['id']}", json=payment_rule(enabled=False), headers=OPERATOR
    )
    assert off.status_code == 200, off.text
    assert off.json()["scheduled"] is None
    assert [t.state for t in await tasks(node)] == ["cancelled"]
    on = await node_http.put(
        f"{BASE}/recurring-rules/{rule['id']}",
        json=payment_rule(lead_days=1, send_time="10:30"),
        headers=OPERATOR,
    )
    assert on.json()["scheduled"]["send_at"] == "2026-05-10T10:30:00+09:00"
    assert [(t.state, t.due_at.isoformat()) for t in await tasks(node)] == [
        ("pending", "2026-05-10T01:30:00+00:00")
    ]


async def _refused(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(f"{BASE}/recurring-rules", json=body, headers=OPERATOR)
    assert response.status_code in (404, 409, 422), response.text
    detail: dict[str, Any] = response.json()["detail"]
    detail["status"] = response.status_code
    return detail


async def test_invalid_rules_are_refused_with_a_code_and_a_japanese_reason_and_nothing_saved(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    bad_rrule = await _refused(node_http, payment_rule(rrule="FREQ=HOURLY"))
    assert (bad_rrule["status"], bad_rrule["code"]) == (422, "INVALID_RECURRENCE")
    assert bad_rrule["errors"][0]["field"] == "rrule"
    assert bad_rrule["message"].startswith("繰り返しの指定に誤りがあります: FREQ は")
    never = await _refused(node_http, payment_rule(rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"))
    assert never["code"] == "INVALID_RECURRENCE" and "今後5年間" in never["message"]
    night = await _refused(node_http, payment_rule(send_time="22:00"))
    assert night["code"] == "INVALID_RECURRENCE" and night["errors"][0]["field"] == "send_time"
    personal = await _refused(node_http, payment_rule(body="U" + "ab" * 16 + " さんへ"))
    assert personal["code"] == "WORDING_REFUSED"
    assert personal["errors"][0]["code"] == "PERSONAL_DATA_LINE_USER_ID"
    placeholder = await _refused(node_http, payment_rule(headline="{氏名}様の支給日"))
    assert placeholder["errors"][0]["code"] == "UNKNOWN_PLACEHOLDER"
    http_url = await _refused(node_http, payment_rule(url="http://example.jp/"))
    assert http_url["errors"][0]["code"] == "URL_NOT_HTTPS"
    bad_spec = await _refused(node_http, payment_rule(spec={"household": ["rich"]}))
    assert bad_spec["code"] == "INVALID_INPUT" and bad_spec["errors"][0]["field"].startswith(
        "spec.household"
    )
    lead = await _refused(node_http, payment_rule(lead_days=61))
    assert lead["errors"][0]["field"] == "lead_days"
    listed = await node_http.get(f"{BASE}/recurring-rules", headers=OPERATOR)
    assert listed.json() == []
    assert await tasks(node) == []


async def test_a_name_is_unique_and_another_tenants_template_or_rule_is_not_found(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    await node.add_tenant(code=OTHER)
    theirs = await node_http.post(
        f"/api/tenants/{OTHER}/templates",
        json={"name": "名古屋の文面", "text": "{自治体名}から"},
        headers=OPERATOR,
    )
    their_rule = await node_http.post(
        f"/api/tenants/{OTHER}/recurring-rules", json=payment_rule(), headers=OPERATOR
    )
    assert their_rule.status_code == 201
    first = await node_http.post(f"{BASE}/recurring-rules", json=payment_rule(), headers=OPERATOR)
    assert first.status_code == 201
    again = await _refused(node_http, payment_rule())
    assert (again["status"], again["code"]) == (409, "RECURRING_RULE_NAME_TAKEN")
    template = await _refused(node_http, payment_rule(name="別名", template_id=theirs.json()["id"]))
    assert (template["status"], template["code"]) == (404, "TEMPLATE_NOT_FOUND")
    other_id = their_rule.json()["id"]
    got = await node_http.get(f"{BASE}/recurring-rules/{other_id}", headers=OPERATOR)
    assert got.status_code == 404 and got.json()["detail"]["code"] == "RECURRING_RULE_NOT_FOUND"


async def test_only_editors_write_rules_and_every_role_reads_them(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    for role in ("viewer", "approver", "editor"):
        headers = await staff_headers(node_http, tenant=TENANT, username=f"as-{role}", role=role)
        write = await node_http.post(
            f"{BASE}/recurring-rules", json=payment_rule(name=f"by-{role}"), headers=headers
        )
        assert write.status_code == (201 if role == "editor" else 403), write.text
        read = await node_http.get(f"{BASE}/recurring-rules", headers=headers)
        assert read.status_code == 200
    async with node.sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.actor).where(AuditEntry.action == "recurring.create")
            )
        )
    assert actions == ["staff:as-editor"]


async def test_replacing_a_rule_without_a_start_day_keeps_its_cycle(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    fortnightly = payment_rule(rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", lead_days=0)
    created = await node_http.post(
        f"{BASE}/recurring-rules", json={**fortnightly, "starts_on": "2026-04-01"}, headers=OPERATOR
    )
    assert created.json()["scheduled"]["on"] == "2026-04-15"
    node.clock.set(datetime(2026, 4, 8, 0, 0, tzinfo=UTC))  # Wednesday 09:00 JST
    replaced = await node_http.put(
        f"{BASE}/recurring-rules/{created.json()['id']}",
        json={**fortnightly, "send_time": "10:00"},
        headers=OPERATOR,
    )
    assert replaced.json()["starts_on"] == "2026-04-01"
    assert replaced.json()["scheduled"]["send_at"] == "2026-04-15T10:00:00+09:00"
