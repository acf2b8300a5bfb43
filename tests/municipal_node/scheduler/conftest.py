"""Test handler kinds for the scheduler: each run writes an audit entry (``test.ran``) in the
claim's transaction, so a run that was rolled back leaves none and a task run twice leaves
two."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from municipal_node.audit import repository as audit
from municipal_node.audit.models import AuditEntry
from municipal_node.scheduler.models import ScheduledTask
from municipal_node.scheduler.registry import HANDLERS, MISSED_HOOKS, DeferTaskError, TaskContext
from municipal_node.scheduler.runner import Scheduler, SchedulerOptions
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import NOW

RAN = "test.ran"
#: ``test_later`` tasks put themselves off until then
DEFER_UNTIL = NOW + timedelta(hours=8)
TOLD_MISSED = "test.told_missed"


@dataclass
class Kinds:
    #: how many more runs of a ``flaky`` task raise
    failures_left: dict[str, int] = field(default_factory=dict)


async def _record(context: TaskContext, task: ScheduledTask, action: str) -> None:
    await audit.record(
        context.session,
        tenant_code=task.tenant_code,
        actor="test",
        action=action,
        at=context.now,
        count=1,
        detail={"key": task.key},
    )


@pytest.fixture
def kinds() -> Iterator[Kinds]:
    state = Kinds()

    async def echo(context: TaskContext, task: ScheduledTask) -> None:
        await _record(context, task, RAN)

    async def flaky(context: TaskContext, task: ScheduledTask) -> None:
        await _record(context, task, RAN)  # written, then rolled back when it raises
        if state.failures_left.get(task.key, 0) > 0:
            state.failures_left[task.key] -= 1
            raise RuntimeError("LINE は今忙しい / simulated failure")

    async def told(context: TaskContext, task: ScheduledTask) -> None:
        await _record(context, task, TOLD_MISSED)

    async def later(context: TaskContext, task: ScheduledTask) -> None:
        await _record(context, task, RAN)  # rolled back by the deferral
        if context.now < DEFER_UNTIL:
            raise DeferTaskError(DEFER_UNTIL, "夜間のため / quiet hours")

    HANDLERS["test_echo"] = echo
    HANDLERS["test_flaky"] = flaky
    HANDLERS["test_later"] = later
    MISSED_HOOKS["test_echo"] = told
    try:
        yield state
    finally:
        for kind in ("test_echo", "test_flaky", "test_later"):
            HANDLERS.pop(kind, None)
            MISSED_HOOKS.pop(kind, None)


def scheduler(node: Node, **options: float) -> Scheduler:
    return Scheduler(
        sessions=node.sessions,
        sealer=node.sealer,
        clock=node.clock,
        options=SchedulerOptions(**options),  # type: ignore[arg-type]
    )


async def runs(node: Node, action: str = RAN) -> list[str]:
    """Keys of the committed runs, in order."""
    async with node.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [str(row.detail["key"]) for row in rows]


async def task(node: Node, key: str) -> ScheduledTask:
    async with node.sessions() as session:
        row = await session.scalar(select(ScheduledTask).where(ScheduledTask.key == key))
        assert row is not None
        return row
