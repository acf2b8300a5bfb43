"""Recurring notices on the scheduler: each occurrence creates one send job (publisher
``local``) with the day in its message and schedules the next; a missed one keeps the chain."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.dispatch.models import SendJob
from municipal_node.scheduler.models import ScheduledTask
from municipal_node.scheduler.runner import Scheduler, SchedulerOptions
from municipal_node.segments.ages import JST
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.recurring.test_api import BASE, payment_rule
from tests.municipal_node.staff.client import OPERATOR


async def jobs(node: Node) -> list[SendJob]:
    async with node.sessions() as session:
        return list(await session.scalars(select(SendJob).order_by(SendJob.id)))


async def recurring_tasks(node: Node) -> list[tuple[str, str]]:
    async with node.sessions() as session:
        rows = await session.scalars(
            select(ScheduledTask)
            .where(ScheduledTask.kind == "recurring")
            .order_by(ScheduledTask.due_at)
        )
        return [(task.key.split(":", 2)[2], task.state) for task in rows]


def scheduler(node: Node) -> Scheduler:
    return Scheduler(
        sessions=node.sessions,
        sealer=node.sealer,
        clock=node.clock,
        options=SchedulerOptions(catch_up_hours=24),
    )


async def test_an_occurrence_creates_one_local_job_with_its_day_and_schedules_the_next(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    rule = (
        await node_http.post(f"{BASE}/recurring-rules", json=payment_rule(), headers=OPERATOR)
    ).json()
    runner = scheduler(node)
    assert await runner.run_once(TENANT) == 0  # nothing due on 2026-04-01
    node.clock.set(datetime(2026, 5, 9, 9, 0, tzinfo=JST))
    assert await runner.run_once(TENANT) == 1
    assert await runner.run_once(TENANT) == 0
    [job] = await jobs(node)
    assert (job.publisher, job.notice_id, job.phase, job.approval) == (
        "local",
        f"r{rule['id']}-20260511",
        "notice",
        "auto",
    )
    assert job.spec == {"household": ["single_parent"]}
    assert job.send_until == datetime(2026, 5, 12, 0, 0, tzinfo=JST)
    assert "次の支給日は2026年5月11日（月）です。" in job.messages[0]["text"]
    assert job.messages[1]["type"] == "flex"
    assert await recurring_tasks(node) == [("2026-05-11", "done"), ("2026-07-11", "pending")]
    # the July 11 payment is a Saturday: notified on Wednesday 8th for Friday 10th
    node.clock.set(datetime(2026, 7, 8, 9, 30, tzinfo=JST))
    assert await runner.run_once(TENANT) == 1
    july = (await jobs(node))[1]
    assert "2026年7月10日（金）" in july.messages[0]["text"]
    assert await recurring_tasks(node) == [
        ("2026-05-11", "done"),
        ("2026-07-11", "done"),
        ("2026-09-11", "pending"),
    ]
    async with node.sessions() as session:
        audited = list(
            await session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == "recurring.send")
            )
        )
    assert [entry["outcome"] for entry in audited] == ["created", "created"]


async def test_an_occurrence_missed_while_the_node_was_down_is_not_sent_and_the_next_follows(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    await node_http.post(f"{BASE}/recurring-rules", json=payment_rule(), headers=OPERATOR)
    node.clock.set(datetime(2026, 5, 20, tzinfo=UTC))  # 11 days after the May notice was due
    assert await scheduler(node).run_once(TENANT) == 1
    assert await jobs(node) == []
    assert await recurring_tasks(node) == [("2026-05-11", "missed"), ("2026-07-11", "pending")]


async def test_a_rule_switched_off_before_its_time_sends_nothing(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    rule = (
        await node_http.post(f"{BASE}/recurring-rules", json=payment_rule(), headers=OPERATOR)
    ).json()
    await node_http.put(
        f"{BASE}/recurring-rules/{rule['id']}", json=payment_rule(enabled=False), headers=OPERATOR
    )
    node.clock.set(datetime(2026, 5, 9, 9, 0, tzinfo=JST))
    assert await scheduler(node).run_once(TENANT) == 0
    assert await jobs(node) == []


async def test_a_rule_needing_approval_creates_a_job_held_for_approval(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    await node_http.post(
        f"{BASE}/recurring-rules", json=payment_rule(mode="approval"), headers=OPERATOR
    )
    node.clock.set(datetime(2026, 5, 9, 9, 0, tzinfo=JST))
    await scheduler(node).run_once(TENANT)
    [job] = await jobs(node)
    assert job.approval == "approval"
