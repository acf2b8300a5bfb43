"""Date triggers on the scheduler: the daily run fires each child once, only for linked
friends who want the topic, and makes one job per trigger and day that names its fires."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.dispatch.models import OutboxBatch, SendJob
from municipal_node.dispatch.planner import plan_job
from municipal_node.scheduler.models import ScheduledTask
from municipal_node.scheduler.runner import Scheduler, SchedulerOptions
from municipal_node.segments.ages import JST
from municipal_node.triggers import service
from municipal_node.triggers.models import TriggerFire
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT, TENANT_NAME, write_csv
from tests.municipal_node.segments.population import befriend, prefer, uid
from tests.municipal_node.staff.client import OPERATOR

BASE = f"/api/tenants/{TENANT}"

#: (resident_id, household, child_birth_dates, district, programs, line user) on 2026-04-15
RESIDENTS = [
    ("R1", "child_rearing", "2026-01-15", "東町", "", uid(1)),  # 4m: notify 4/15, event 5/15
    ("R2", "child_rearing", "2026-01-20", "東町", "", uid(2)),  # 4m: notify 4/20
    ("R3", "child_rearing", "2026-01-10", "東町", "", uid(3)),  # due, but topic school only
    ("R4", "child_rearing", "2026-01-10", "東町", "", uid(4)),  # due, but stopped everything
    ("R5", "child_rearing", "2026-01-10", "東町", "", uid(5)),  # due, but blocked the account
    ("R6", "child_rearing", "2026-01-10", "東町", "", ""),  # due, but not linked
    ("R7", "child_rearing", "2025-12-01", "東町", "", uid(7)),  # 4m checkup day has passed
    # twins due for 4m, and an older child due for 1y6m (notify 3/20, event 4/20)
    ("R8", "child_rearing", "2026-01-15;2026-01-15;2024-10-20", "西町", "", uid(8)),
]


async def population(node: Node, tmp_path: Path) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "residents.csv", RESIDENTS))
    await befriend(node, [uid(n) for n in (1, 2, 3, 4, 5, 7, 8, 9)])
    await befriend(node, [uid(5)], friend=False, at_ms=2_000)
    for n in (1, 2, 7, 8):
        await prefer(node, uid(n), topics=["checkups", "child_rearing"])
    await prefer(node, uid(3), topics=["school"])
    await prefer(node, uid(4), topics=["checkups"], stopped=True)
    await prefer(node, uid(5), topics=["checkups"])


async def switch_on(http: httpx.AsyncClient, trigger: str, **changes: object) -> httpx.Response:
    body: dict[str, object] = {
        "trigger": trigger,
        "headline": "乳幼児健診のご案内",
        "body": "健診の日程は市のページでご確認ください。",
        "url": "https://www.city.example.lg.jp/kenshin",
    }
    body.update(changes)
    return await http.post(f"{BASE}/triggers", json=body, headers=OPERATOR)


async def fires(node: Node) -> list[tuple[str, str, str]]:
    async with node.sessions() as session:
        rows = await session.scalars(select(TriggerFire).order_by(TriggerFire.id))
        return [(f.trigger, f.fire_key, f.line_user_id) for f in rows]


async def jobs(node: Node) -> list[SendJob]:
    async with node.sessions() as session:
        return list(await session.scalars(select(SendJob).order_by(SendJob.id)))


async def daily_tasks(node: Node) -> list[tuple[str, str]]:
    async with node.sessions() as session:
        rows = await session.scalars(
            select(ScheduledTask)
            .where(ScheduledTask.kind == "triggers_daily")
            .order_by(ScheduledTask.due_at)
        )
        return [(task.payload["day"], task.state) for task in rows]


def scheduler(node: Node) -> Scheduler:
    return Scheduler(
        sessions=node.sessions,
        sealer=node.sealer,
        clock=node.clock,
        options=SchedulerOptions(catch_up_hours=24),
    )


async def test_the_daily_run_fires_due_children_of_linked_friends_who_want_the_topic(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await population(node, tmp_path)
    assert (await switch_on(node_http, "checkup_4m")).status_code == 200
    assert (await switch_on(node_http, "checkup_18m")).status_code == 200
    assert await daily_tasks(node) == [("2026-04-02", "pending")]  # switched on at 9:00 JST
    node.clock.set(datetime(2026, 4, 15, 9, 0, tzinfo=JST))
    await scheduler(node).run_once(TENANT)
    # 4/2 was missed (the node "was down"); today's run follows at once, then tomorrow's
    assert await daily_tasks(node) == [
        ("2026-04-02", "missed"),
        ("2026-04-15", "done"),
        ("2026-04-16", "pending"),
    ]
    assert await fires(node) == [
        ("checkup_4m", "checkup_4m-20260415", uid(1)),
        ("checkup_4m", "checkup_4m-20260415", uid(8)),  # twins: one fire, one message
        ("checkup_18m", "checkup_18m-20260415", uid(8)),
    ]
    four, eighteen = await jobs(node)
    assert (four.publisher, four.notice_id, four.phase) == (
        "local",
        "checkup_4m-20260415",
        "notice",
    )
    assert four.spec == {"source": "trigger_fires", "fire_key": "checkup_4m-20260415"}
    assert eighteen.spec == {"source": "trigger_fires", "fire_key": "checkup_18m-20260415"}
    assert four.messages[0]["text"].startswith(f"【{TENANT_NAME}】乳幼児健診のご案内")
    assert "R1" not in str(four.messages) and uid(1) not in str(four.messages)


async def test_each_child_fires_once_however_often_and_on_whichever_day_the_run_comes(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await population(node, tmp_path)
    await switch_on(node_http, "checkup_4m")
    day = date(2026, 4, 15)
    node.clock.set(datetime(2026, 4, 15, 9, 0, tzinfo=JST))
    for _ in range(2):  # the same day's run twice
        async with unit_of_work(node.sessions) as session:
            await service.run_daily(
                session, sealer=node.sealer, tenant_code=TENANT, tenant_name=TENANT_NAME,
                day=day, now=node.clock.now(),
            )  # fmt: skip
    assert len(await fires(node)) == 2
    assert len(await jobs(node)) == 1
    for later in (16, 20, 21):
        node.clock.set(datetime(2026, 4, later, 9, 0, tzinfo=JST))
        async with unit_of_work(node.sessions) as session:
            await service.run_daily(
                session, sealer=node.sealer, tenant_code=TENANT, tenant_name=TENANT_NAME,
                day=date(2026, 4, later), now=node.clock.now(),
            )  # fmt: skip
    assert await fires(node) == [
        ("checkup_4m", "checkup_4m-20260415", uid(1)),
        ("checkup_4m", "checkup_4m-20260415", uid(8)),
        ("checkup_4m", "checkup_4m-20260420", uid(2)),  # R2's notice day came
    ]
    assert [job.notice_id for job in await jobs(node)] == [
        "checkup_4m-20260415",
        "checkup_4m-20260420",
    ]


async def test_fires_name_children_by_a_keyed_digest_and_the_reading_is_audited(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await population(node, tmp_path)
    await switch_on(node_http, "checkup_4m")
    node.clock.set(datetime(2026, 4, 15, 9, 0, tzinfo=JST))
    async with unit_of_work(node.sessions) as session:
        await service.run_daily(
            session, sealer=node.sealer, tenant_code=TENANT, tenant_name=TENANT_NAME,
            day=date(2026, 4, 15), now=node.clock.now(), page_size=2,
        )  # fmt: skip
    async with node.sessions() as session:
        keys = list(await session.scalars(select(TriggerFire.subject_key)))
        scans = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "triggers.scan"))
        )
        fired = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "triggers.fire"))
        )
    assert len(keys) == 2
    assert all(len(key) == 32 and set(key) <= set("0123456789abcdef") for key in keys)
    assert [scan.count for scan in scans] == [4]  # R1, R2, R7, R8 opened (paged by 2)
    assert scans[0].actor == "scheduler"
    assert [(entry.count, entry.detail["new"]) for entry in fired] == [(2, 2)]


async def test_school_entry_fires_in_december_before_the_child_enters_school(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    rows = [
        ("S1", "child_rearing", "2020-06-01", "東町", "", uid(21)),  # es1 April 2027
        ("S2", "child_rearing", "2021-06-01", "東町", "", uid(22)),  # es1 April 2028
    ]
    await node.import_csv(write_csv(tmp_path / "school.csv", rows))
    await befriend(node, [uid(21), uid(22)])
    for n in (21, 22):
        await prefer(node, uid(n), topics=["school"])
    response = await switch_on(
        node_http, "school_entry", headline="入学準備金のご案内", body="申請は1月からです。"
    )
    assert response.status_code == 200, response.text
    for when in (date(2026, 11, 30), date(2026, 12, 1)):
        node.clock.set(datetime.combine(when, datetime.min.time(), tzinfo=JST).replace(hour=9))
        async with unit_of_work(node.sessions) as session:
            await service.run_daily(
                session, sealer=node.sealer, tenant_code=TENANT, tenant_name=TENANT_NAME,
                day=when, now=node.clock.now(),
            )  # fmt: skip
    assert await fires(node) == [("school_entry", "school_entry-20261201", uid(21))]


async def test_the_trigger_list_shows_every_trigger_and_small_counts_as_less_than_ten(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await population(node, tmp_path)
    await switch_on(node_http, "checkup_4m", mode="approval")
    listed = await node_http.get(f"{BASE}/triggers", headers=OPERATOR)
    assert listed.status_code == 200
    by_code = {entry["trigger"]: entry for entry in listed.json()}
    assert list(by_code) == ["checkup_4m", "checkup_18m", "checkup_3y", "school_entry"]
    assert by_code["checkup_4m"]["enabled"] and by_code["checkup_4m"]["mode"] == "approval"
    assert by_code["checkup_4m"]["next_run_at"] == "2026-04-02T09:00:00+09:00"
    assert not by_code["checkup_3y"]["enabled"]
    assert by_code["checkup_3y"]["headline"] == "3歳児健診のご案内"
    assert by_code["checkup_4m"]["fired"] == "<10"


async def test_switching_every_trigger_off_cancels_the_daily_run(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    await switch_on(node_http, "checkup_4m")
    await switch_on(node_http, "checkup_4m", enabled=False)
    assert await daily_tasks(node) == [("2026-04-02", "cancelled")]
    await switch_on(node_http, "checkup_3y")
    assert await daily_tasks(node) == [("2026-04-02", "pending")]


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"trigger": "checkup_5y"}, "trigger", "INVALID_INPUT"),
        ({"body": "健診は{日付}です"}, "body", "WORDING_REFUSED"),
        ({"headline": ""}, "headline", "INVALID_INPUT"),
        ({"url": "javascript:alert(1)"}, "url", "WORDING_REFUSED"),
        ({"mode": "later"}, "mode", "INVALID_INPUT"),
    ],
)
async def test_invalid_trigger_settings_are_refused_and_nothing_is_switched_on(
    node: Node, node_http: httpx.AsyncClient, change: dict[str, object], field: str, code: str
) -> None:
    await node.add_tenant()
    change = dict(change)
    trigger = str(change.pop("trigger", "checkup_4m"))
    response = await switch_on(node_http, trigger, **change)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["code"] == code
    assert detail["errors"][0]["field"] == field
    listed = await node_http.get(f"{BASE}/triggers", headers=OPERATOR)
    assert not any(entry["enabled"] for entry in listed.json())
    assert await daily_tasks(node) == []


async def test_twins_born_either_side_of_midnight_get_one_message(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    rows = [("T1", "child_rearing", "2026-01-14;2026-01-15", "東町", "", uid(31))]
    await node.import_csv(write_csv(tmp_path / "twins.csv", rows))
    await befriend(node, [uid(31)])
    await prefer(node, uid(31), topics=["checkups"])
    await switch_on(node_http, "checkup_4m")
    for day in (14, 15):
        node.clock.set(datetime(2026, 4, day, 9, 0, tzinfo=JST))
        async with unit_of_work(node.sessions) as session:
            await service.run_daily(
                session, sealer=node.sealer, tenant_code=TENANT, tenant_name=TENANT_NAME,
                day=date(2026, 4, day), now=node.clock.now(),
            )  # fmt: skip
    assert await fires(node) == [("checkup_4m", "checkup_4m-20260414", uid(31))]


async def test_a_child_already_reached_is_not_reached_again_after_a_key_rotation(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await population(node, tmp_path)
    await switch_on(node_http, "checkup_4m")
    rotated = Sealer(bytes(range(1, 33)), [node.settings.key_bytes()])
    for day, sealer in ((15, node.sealer), (16, rotated)):
        node.clock.set(datetime(2026, 4, day, 9, 0, tzinfo=JST))
        async with unit_of_work(node.sessions) as session:
            await service.run_daily(
                session, sealer=sealer, tenant_code=TENANT, tenant_name=TENANT_NAME,
                day=date(2026, 4, day), now=node.clock.now(),
            )  # fmt: skip
    assert [user for _, _, user in await fires(node)] == [uid(1), uid(8)]


async def test_the_days_job_plans_exactly_the_fired_users(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await population(node, tmp_path)
    await switch_on(node_http, "checkup_4m")
    node.clock.set(datetime(2026, 4, 15, 9, 0, tzinfo=JST))
    async with unit_of_work(node.sessions) as session:
        jobs_made = await service.run_daily(
            session, sealer=node.sealer, tenant_code=TENANT, tenant_name=TENANT_NAME,
            day=date(2026, 4, 15), now=node.clock.now(),
        )  # fmt: skip
    job_id = jobs_made["checkup_4m"]
    assert job_id is not None
    report = await plan_job(
        node.sessions, sealer=node.sealer, clock=node.clock, tenant_code=TENANT, job_id=job_id
    )
    assert report is not None
    async with node.sessions() as session:
        batches = list(await session.scalars(select(OutboxBatch.user_ids)))
    assert batches == [[uid(1), uid(8)]]
