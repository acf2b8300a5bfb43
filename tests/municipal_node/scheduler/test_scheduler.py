"""The scheduler: a task runs once when due, its effect committed with it; a failing handler
is rolled back and retried with backoff, then fails for good; a task due while the node was
down runs when it is inside the catch-up window and is reported missed (audit, WARNING, the
owner's hook) when it is older."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.db.engine import unit_of_work
from municipal_node.scheduler import service
from municipal_node.scheduler.models import TaskState
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.scheduler.conftest import (
    DEFER_UNTIL,
    TOLD_MISSED,
    Kinds,
    runs,
    scheduler,
    task,
)


async def _schedule(node: Node, kind: str, key: str, due_in: timedelta) -> bool:
    now = node.clock.now()
    async with unit_of_work(node.sessions) as session:
        return await service.schedule(
            session, tenant_code=TENANT, kind=kind, key=key, due_at=now + due_in,
            payload={"n": 1}, now=now,
        )  # fmt: skip


async def test_a_task_runs_once_when_due_and_schedule_is_idempotent(
    node: Node, kinds: Kinds
) -> None:
    await node.add_tenant()
    assert await _schedule(node, "test_echo", "a", timedelta(minutes=10))
    assert not await _schedule(node, "test_echo", "a", timedelta(minutes=99))  # exists
    runner = scheduler(node)
    assert await runner.run_once(TENANT) == 0  # not due yet
    node.clock.set(node.clock.now() + timedelta(minutes=10))
    assert await runner.run_once(TENANT) == 1
    assert await runner.run_once(TENANT) == 0
    assert await runs(node) == ["a"]
    done = await task(node, "a")
    assert done.state == TaskState.DONE
    assert done.due_at == node.clock.now()  # the first schedule's time was kept
    assert not await _schedule(node, "test_echo", "a", timedelta(minutes=1))  # never again


async def test_reschedule_and_cancel_act_on_tasks_that_have_not_run(
    node: Node, kinds: Kinds
) -> None:
    await node.add_tenant()
    now = node.clock.now()
    await _schedule(node, "test_echo", "moved", timedelta(hours=1))
    await _schedule(node, "test_echo", "off", timedelta(hours=1))
    async with unit_of_work(node.sessions) as session:
        assert await service.reschedule(
            session, tenant_code=TENANT, kind="test_echo", key="moved",
            due_at=now + timedelta(hours=3), now=now,
        )  # fmt: skip
        assert await service.cancel(
            session, tenant_code=TENANT, kind="test_echo", key="off", now=now
        )
        assert not await service.cancel(
            session, tenant_code=TENANT, kind="test_echo", key="missing", now=now
        )
    runner = scheduler(node)
    node.clock.set(now + timedelta(hours=2))
    assert await runner.run_once(TENANT) == 0
    node.clock.set(now + timedelta(hours=3))
    assert await runner.run_once(TENANT) == 1
    assert await runs(node) == ["moved"]
    assert (await task(node, "off")).state == TaskState.CANCELLED
    async with unit_of_work(node.sessions) as session:  # a done task stays done
        assert not await service.reschedule(
            session, tenant_code=TENANT, kind="test_echo", key="moved",
            due_at=now + timedelta(hours=9), now=now,
        )  # fmt: skip


async def test_a_failing_handler_is_rolled_back_and_retried_with_backoff(
    node: Node, kinds: Kinds
) -> None:
    await node.add_tenant()
    kinds.failures_left["f"] = 2
    await _schedule(node, "test_flaky", "f", timedelta())
    runner = scheduler(node, backoff_base_seconds=60, backoff_cap_seconds=600)
    start = node.clock.now()
    assert await runner.run_once(TENANT) == 1  # tried, failed
    failed = await task(node, "f")
    assert (failed.state, failed.attempts) == (TaskState.PENDING, 1)
    assert failed.last_error is not None and "simulated failure" in failed.last_error
    assert failed.lease_until == start + timedelta(seconds=60)
    assert await runs(node) == []  # its write was rolled back
    assert await runner.run_once(TENANT) == 0  # not before the backoff
    node.clock.set(start + timedelta(seconds=60))
    await runner.run_once(TENANT)  # second failure: the delay doubles
    assert (await task(node, "f")).lease_until == start + timedelta(seconds=180)
    node.clock.set(start + timedelta(seconds=180))
    assert await runner.run_once(TENANT) == 1
    done = await task(node, "f")
    assert (done.state, done.attempts, done.last_error) == (TaskState.DONE, 2, None)
    assert await runs(node) == ["f"]


async def test_a_task_that_keeps_failing_fails_for_good_with_an_audit_record(
    node: Node, kinds: Kinds
) -> None:
    await node.add_tenant()
    kinds.failures_left["g"] = 99
    await _schedule(node, "test_flaky", "g", timedelta())
    runner = scheduler(node, retry_attempts=3, backoff_base_seconds=1, backoff_cap_seconds=1)
    for _ in range(3):
        await runner.run_once(TENANT)
        node.clock.set(node.clock.now() + timedelta(seconds=1))
    gave_up = await task(node, "g")
    assert (gave_up.state, gave_up.attempts) == (TaskState.FAILED, 3)
    assert await runner.run_once(TENANT) == 0
    async with node.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "scheduler.task_failed" in actions


async def test_unknown_kind_is_an_error_not_a_crash(node: Node, kinds: Kinds) -> None:
    await node.add_tenant()
    await _schedule(node, "no_such_kind", "x", timedelta())
    runner = scheduler(node)
    assert await runner.run_once(TENANT) == 1
    row = await task(node, "x")
    assert row.state == TaskState.PENDING and row.attempts == 1
    assert row.last_error is not None and "no_such_kind" in row.last_error


async def test_catch_up_runs_late_tasks_inside_the_window_and_reports_older_ones_missed(
    node: Node, kinds: Kinds, caplog: pytest.LogCaptureFixture
) -> None:
    await node.add_tenant()
    await _schedule(node, "test_echo", "late", timedelta(hours=1))
    await _schedule(node, "test_echo", "too-late", timedelta(minutes=30))
    # the node was down; it comes back 24h45m later: "late" is 23h45m late, "too-late" 24h15m
    node.clock.set(node.clock.now() + timedelta(hours=24, minutes=45))
    runner = scheduler(node, catch_up_hours=24)
    with caplog.at_level(logging.WARNING, logger="municipal_node.scheduler.runner"):
        assert await runner.run_once(TENANT) == 2
    assert await runs(node) == ["late"]
    missed = await task(node, "too-late")
    assert missed.state == TaskState.MISSED
    assert missed.last_error is not None and "取り戻し期間" in missed.last_error
    assert await runs(node, TOLD_MISSED) == ["too-late"]  # the owner's hook, same transaction
    async with node.sessions() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "scheduler.task_missed")
        )
    assert entry is not None and entry.detail["key"] == "too-late"
    assert entry.tenant_code == TENANT
    assert any("too-late" in r.getMessage() and "missed" in r.getMessage() for r in caplog.records)
    assert runner.last_round[TENANT].missed == 1


async def test_tasks_of_one_tenant_are_not_run_for_another(node: Node, kinds: Kinds) -> None:
    await node.add_tenant()
    await node.add_tenant(code="23100")
    await _schedule(node, "test_echo", "mine", timedelta())
    runner = scheduler(node)
    assert await runner.run_once("23100") == 0
    assert await runner.run_once(TENANT) == 1
    assert await runner.run_once("99999") == 0  # unknown tenant: nothing, no error


async def test_a_handler_may_put_its_task_off_without_it_counting_as_a_failure(
    node: Node, kinds: Kinds
) -> None:
    await node.add_tenant()
    await _schedule(node, "test_later", "night", timedelta())
    runner = scheduler(node)
    assert await runner.run_once(TENANT) == 1
    assert runner.last_round[TENANT].deferred == 1
    put_off = await task(node, "night")
    assert (put_off.state, put_off.attempts, put_off.due_at) == (
        TaskState.PENDING,
        0,
        DEFER_UNTIL,
    )
    assert await runs(node) == []  # its writes were rolled back
    assert await runner.run_once(TENANT) == 0
    node.clock.set(DEFER_UNTIL)
    assert await runner.run_once(TENANT) == 1
    assert await runs(node) == ["night"]
    assert (await task(node, "night")).state == TaskState.DONE
